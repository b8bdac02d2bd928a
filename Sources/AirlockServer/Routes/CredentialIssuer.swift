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
            lease = try await broker.leases.begin(requestID, by: principal, issuable: catalog.kinds)
        } catch let error as AccessRequestError {
            throw AccessRequestRoutes.apiError(error)
        } catch let error as StoreError where error.code == "forbidden" {
            throw APIError(.forbidden, code: "forbidden", message: error.message)
        } catch let error as StoreError where error.code == "not_found" {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        } catch let error as StoreError where error.code == "not_issuable" {
            throw APIError(.unprocessableContent, code: "unknown_resource", message: "the resource is no longer configured")
        }
        guard let resource = catalog[lease.resourceID] else {
            try? await broker.leases.abandon(lease.lease, error: "the resource is no longer configured")
            throw APIError(.unprocessableContent, code: "unknown_resource", message: "the resource is no longer configured")
        }
        switch resource.kind {
        case .postgres: return try await issuePostgres(lease, resource: resource)
        case .token: return try await issueToken(lease, resource: resource, principal: principal)
        }
    }

    /// A PostgreSQL login: minted on the target, then the lease is activated with its name.
    private func issuePostgres(_ lease: LeaseIntent, resource: Resource) async throws -> JSONValue {
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
            // The lease may already be ending (revoke-all while this was minting): remove the login here, and
            // hand the lease to revocation as well (idempotent), so the login cannot outlive it either way.
            _ = try? await broker.postgres.revoke(resource: resource, username: credential.username)
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

    /// An `alkc_` token: it exists once its hash is stored, which happens in the activation statement itself, so
    /// a token is never valid without an active lease.
    private func issueToken(_ lease: LeaseIntent, resource: Resource, principal: Principal) async throws -> JSONValue {
        let token: CredentialToken
        do {
            token = try CredentialToken.mint(
                resource: resource, role: lease.role, subject: principal.id, leaseID: lease.lease,
                expiresAt: lease.expiresAt)
            try await broker.leases.activate(lease, username: nil, token: token)
        } catch {
            try? await broker.leases.abandon(lease.lease, error: "the token could not be issued")
            broker.logger.error("token issuance failed", metadata: [
                "lease_id": "\(lease.lease)", "resource": "\(resource.id)", "error": "\(describeDatabaseError(error))",
            ])
            throw APIError(.internalServerError, code: "issuance_failed", message: "issuing the token failed")
        }
        return .object([
            "kind": "token", "token": .string(token.secret), "scopes": .array(token.scopes.map { .string($0) }),
            "audience": .string(token.audience), "expires_at": JSONResponse.time(token.expiresAt),
            "lease_id": JSONResponse.id(lease.lease),
        ])
    }
}
