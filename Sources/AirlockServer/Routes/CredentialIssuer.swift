import AirlockCore
import AirlockProviders
import AirlockStore
import Foundation

/// Mints a credential at pickup, intent first: the lease row is written (claiming the request) before anything
/// exists on the target; then the provider mints; then the lease becomes active and the request issued. A mint
/// that fails hands the lease to revocation. The secret is returned once and stored nowhere.
struct CredentialIssuer {
    let broker: AccessBroker

    /// Picks up the credential of request `requestID` for `principal`: one locked read and the lease intent in
    /// one transaction, then the mint, then activation.
    func issue(requestID: UUID, for principal: Principal) async throws -> JSONValue {
        let catalog = broker.catalog
        let lease: LeaseIntent
        do {
            lease = try await broker.leases.begin(requestID, by: principal) { resourceID in
                guard let resource = catalog[resourceID] else {
                    throw APIError(.unprocessableContent, code: "unknown_resource",
                                   message: "the resource `\(resourceID)` is no longer configured")
                }
                guard resource.kind == .postgres else {
                    throw APIError(.unprocessableContent, code: "unsupported_resource",
                                   message: "token credentials for `\(resource.id)` are not issued by this version yet")
                }
                return resource.kind
            }
        } catch let error as AccessRequestError {
            throw AccessRequestRoutes.apiError(error)
        } catch let error as StoreError where error.code == "forbidden" {
            throw APIError(.forbidden, code: "forbidden", message: error.message)
        } catch let error as StoreError where error.code == "not_found" {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        }
        guard let resource = catalog[lease.resourceID] else {
            throw APIError(.unprocessableContent, code: "unknown_resource", message: "the resource is no longer configured")
        }
        let credential: PostgresCredential
        do {
            credential = try await broker.postgres.mint(
                resource: resource, role: lease.role, leaseID: lease.lease, validUntil: lease.expiresAt)
        } catch {
            let reason = (error as? ProviderError)?.message ?? "the target database refused the credential"
            try? await broker.leases.abandon(lease.lease, error: reason)
            broker.logger.error("credential issuance failed", metadata: [
                "lease_id": "\(lease.lease)", "resource": "\(resource.id)", "error": "\(reason)",
            ])
            throw APIError(.badGateway, code: "issuance_failed", message: "issuing the credential failed: \(reason)")
        }
        try await broker.leases.activate(lease.lease, username: credential.username)
        return .object([
            "kind": "postgres", "username": .string(credential.username), "password": .string(credential.password),
            "host": .string(credential.host), "port": .int(Int64(credential.port)),
            "database": .string(credential.database), "dsn": .string(credential.dsn),
            "expires_at": JSONResponse.time(credential.expiresAt), "lease_id": JSONResponse.id(lease.lease),
        ])
    }
}
