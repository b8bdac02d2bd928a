import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging

/// Removes the credentials of leases that end: at expiry, on explicit revocation, on revoke-all, and for
/// issuances left incomplete. Each lease's credential goes through its resource's provider; a failure is recorded
/// (`airlock.credential.revocation_failed`) and retried after ``retryDelay``, forever.
public struct CredentialRevocation: Sendable {
    public let store: LeaseRevocationStore
    public let catalog: ResourceCatalog
    public let providers: CredentialProviders
    /// The pause before attempt `n + 1` after `n` failed ones (the server gives a growing, jittered backoff).
    let retryDelay: @Sendable (_ failedAttempts: Int) -> Duration
    /// Called after a lease's credential is gone (the server clears its token caches: the database notifies every
    /// broker, but this one need not wait).
    let credentialRemoved: @Sendable () -> Void
    let logger: Logger
    /// Where a resource that left the catalog is found as last configured (nil: its leases cannot be revoked
    /// until it is back).
    public let knownResources: KnownResources?

    public init(
        store: LeaseRevocationStore, catalog: ResourceCatalog, providers: CredentialProviders,
        knownResources: KnownResources? = nil,
        retryDelay: @escaping @Sendable (_ failedAttempts: Int) -> Duration,
        credentialRemoved: @escaping @Sendable () -> Void = {}, logger: Logger
    ) {
        self.store = store
        self.catalog = catalog
        self.knownResources = knownResources
        self.providers = providers
        self.retryDelay = retryDelay
        self.credentialRemoved = credentialRemoved
        self.logger = logger
    }

    /// Claims due leases (only `ids`, when given) and revokes them concurrently; returns how many were claimed.
    @discardableResult
    public func revokeDue(ids: [UUID]? = nil, limit: Int = 50) async throws -> Int {
        let claimed = try await store.claimDue(limit: limit, ids: ids)
        await withDiscardingTaskGroup { group in
            for lease in claimed { group.addTask { _ = await revoke(lease) } }
        }
        return claimed.count
    }

    /// The resource of `lease`: as configured, or (after it left the catalog) as last recorded.
    private func resource(of lease: LeaseToRevoke) async throws -> Resource {
        if let resource = catalog[lease.resourceID] { return resource }
        guard let knownResources, let resource = try await knownResources.lastKnown(lease.resourceID) else {
            throw ProviderError(
                code: "unknown_resource",
                message: "resource `\(lease.resourceID)` is no longer configured and was never recorded: put it back in resources.json")
        }
        logger.warning("revoking a lease of a resource that left the catalog, with its last known settings", metadata: [
            "lease_id": "\(lease.id)", "resource": "\(lease.resourceID)",
        ])
        return resource
    }

    /// Removes the credential of one claimed lease and records the outcome; false when it failed (the attempt is
    /// rescheduled).
    @discardableResult
    public func revoke(_ lease: LeaseToRevoke) async -> Bool {
        let now = store.requests.clock.now()
        var state = lease.state
        do {
            let resource = try await resource(of: lease)
            guard let provider = providers.provider(for: resource) else {
                throw ProviderError(code: "unknown_resource", message: "no provider serves `\(resource.kind)` resources")
            }
            var credential = LeaseCredential(leaseID: lease.id, username: lease.username, tokenID: lease.tokenID)
            if credential.username == nil {
                // Nothing recorded on the target (a token, or an issuance interrupted before it recorded its
                // login): ask the provider what it may have left.
                credential.username = try await provider.leftover(of: lease.id, on: resource)
            }
            let outcome = try await provider.revoke(credential, on: resource)
            guard outcome.isComplete else {
                throw ProviderError(code: "revocation_incomplete", message: outcome.description)
            }
            guard case .finish(let status) = try state.apply(.credentialRemoved(at: now)) else { return true }
            try await store.finish(
                lease, as: status, username: credential.username, terminatedSessions: outcome.terminatedSessions)
            credentialRemoved()
            logger.info("lease ended", metadata: [
                "lease_id": "\(lease.id)", "resource": "\(lease.resourceID)", "reason": "\(lease.reason)",
            ])
            return true
        } catch {
            let message = (error as? ProviderError)?.message ?? (error as? StoreError)?.message ?? describeDatabaseError(error)
            let pause = retryDelay(max(0, lease.attempts - 1))
            let seconds = Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18
            if case .retry(let at)? = try? state.apply(.removalFailed(retryAt: now.addingTimeInterval(seconds))) {
                try? await store.failed(lease, error: message, retryAt: at)
            }
            logger.error("revocation failed; it will be retried", metadata: [
                "lease_id": "\(lease.id)", "resource": "\(lease.resourceID)", "attempts": "\(lease.attempts)",
                "error": "\(message)",
            ])
            return false
        }
    }
}
