import AirlockCore
import AirlockProviders
import AirlockStore
import Foundation
import Logging
import ServiceLifecycle

/// Removes the credentials of leases that end: at expiry, on explicit revocation, on revoke-all, and for
/// issuances left incomplete. PostgreSQL logins are disabled, their sessions terminated, what they own handed
/// over and the role dropped; tokens are revoked (and this broker's token caches cleared at once). A failure is
/// recorded (`airlock.credential.revocation_failed`) and retried with a growing pause, forever.
struct LeaseRevoker: Sendable {
    let store: LeaseRevocationStore
    let catalog: ResourceCatalog
    let postgres: PostgresRoleProvider
    let caches: TokenCaches?
    let logger: Logger
    var backoff = Backoff(base: .seconds(5), cap: .seconds(300))

    /// Claims due leases (only `ids`, when given) and revokes them concurrently; returns how many were claimed.
    @discardableResult
    func revokeDue(ids: [UUID]? = nil, limit: Int = 50) async throws -> Int {
        let claimed = try await store.claimDue(limit: limit, ids: ids)
        await withDiscardingTaskGroup { group in
            for lease in claimed { group.addTask { await revoke(lease) } }
        }
        return claimed.count
    }

    func revoke(_ lease: LeaseToRevoke) async {
        do {
            if lease.kind == Resource.Kind.postgres.rawValue {
                guard let resource = catalog[lease.resourceID] else {
                    throw ProviderError(code: "unknown_resource", message: "resource `\(lease.resourceID)` is no longer configured")
                }
                var username = lease.username
                if username == nil { username = try await postgres.login(of: lease.id, on: resource) }
                var sessions = 0
                if let username {
                    let outcome = try await postgres.revoke(resource: resource, username: username)
                    guard outcome.isComplete else {
                        throw ProviderError(code: "revocation_incomplete", message: outcome.description)
                    }
                    sessions = outcome.terminatedSessions
                }
                try await store.finish(lease, username: username, terminatedSessions: sessions)
            } else {
                try await store.finish(lease, username: nil)
                caches?.clear()  // the trigger tells every broker; this one need not wait for it
            }
            logger.info("lease ended", metadata: [
                "lease_id": "\(lease.id)", "resource": "\(lease.resourceID)", "reason": "\(lease.reason)",
            ])
        } catch {
            let message = (error as? ProviderError)?.message ?? describeDatabaseError(error)
            var generator = SystemRandomNumberGenerator()
            let pause = backoff.delay(attempt: max(0, lease.attempts - 1), using: &generator)
            let seconds = Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18
            try? await store.failed(lease, error: message, retryAfter: seconds)
            logger.error("revocation failed; it will be retried", metadata: [
                "lease_id": "\(lease.id)", "resource": "\(lease.resourceID)", "attempts": "\(lease.attempts)",
                "error": "\(message)",
            ])
        }
    }
}
