import AirlockCore
import AirlockProviders
import AirlockStore
import Foundation

/// Mints a credential at pickup, intent first: the lease row is written (claiming the request) before anything
/// exists on the target; then the provider mints; then the lease becomes active and the request issued. A mint
/// that fails hands the lease to revocation. The secret is returned once and stored nowhere.
struct CredentialIssuer {
    let broker: AccessBroker

    /// Picks up the credential of request `requestID` for `principal`: the claim and the lease intent (one
    /// statement), then the mint, then activation (one statement). If activation fails after the mint, the lease
    /// goes to revocation with the login's name, so the login is removed rather than left unknown.
    func issue(requestID: UUID, for principal: Principal) async throws -> JSONValue {
        let catalog = broker.catalog
        let lease: LeaseIntent
        do {
            lease = try await broker.leases.begin(requestID, by: principal, issuable: Self.issuable(catalog))
        } catch let error as AccessRequestError {
            throw AccessRequestRoutes.apiError(error)
        } catch let error as StoreError where error.code == "forbidden" {
            throw APIError(.forbidden, code: "forbidden", message: error.message)
        } catch let error as StoreError where error.code == "not_found" {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        } catch let error as StoreError where error.code == "not_issuable" {
            throw Self.notIssuable(try await broker.requests.get(requestID)?.resourceID ?? "", catalog: catalog)
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
        do {
            try await broker.leases.activate(lease, username: credential.username)
        } catch {
            try? await broker.leases.abandon(lease.lease, username: credential.username,
                                             error: "activation failed after the login was created")
            broker.logger.error("credential activation failed; the login goes to revocation", metadata: [
                "lease_id": "\(lease.lease)", "resource": "\(resource.id)", "username": "\(credential.username)",
            ])
            throw APIError(.internalServerError, code: "issuance_failed",
                           message: "the credential was created but could not be recorded; it will be revoked")
        }
        return .object([
            "kind": "postgres", "username": .string(credential.username), "password": .string(credential.password),
            "host": .string(credential.host), "port": .int(Int64(credential.port)),
            "database": .string(credential.database), "dsn": .string(credential.dsn),
            "expires_at": JSONResponse.time(credential.expiresAt), "lease_id": JSONResponse.id(lease.lease),
        ])
    }

    /// Why the credential of a request on `resourceID` cannot be issued: 422 `unknown_resource` or
    /// `unsupported_resource`.
    static func notIssuable(_ resourceID: String, catalog: ResourceCatalog) -> APIError {
        guard let resource = catalog[resourceID] else {
            return APIError(.unprocessableContent, code: "unknown_resource",
                            message: "the resource `\(resourceID)` is no longer configured")
        }
        return APIError(.unprocessableContent, code: "unsupported_resource",
                        message: "token credentials for `\(resource.id)` are not issued by this version yet")
    }

    /// The resources whose credentials this version issues, with their kind.
    static func issuable(_ catalog: ResourceCatalog) -> [String: Resource.Kind] {
        var kinds: [String: Resource.Kind] = [:]
        for resource in catalog.resources where resource.kind == .postgres { kinds[resource.id] = resource.kind }
        return kinds
    }
}
