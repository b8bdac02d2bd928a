import AirlockCore
import Foundation

/// `postgres` resources: a real login role per lease (``PostgresRoleProvider`` does the work on the target).
extension PostgresRoleProvider: CredentialProvider {
    public var kind: Resource.Kind { .postgres }

    public func mint(_ request: MintRequest) async throws -> MintedCredential {
        let login = try await mint(
            resource: request.resource, role: request.role, leaseID: request.leaseID, validUntil: request.expiresAt)
        return MintedCredential(
            leaseID: request.leaseID, expiresAt: login.expiresAt, username: login.username,
            secretFields: [
                "username": .string(login.username), "password": .string(login.password), "host": .string(login.host),
                "port": .int(Int64(login.port)), "database": .string(login.database), "dsn": .string(login.dsn),
            ])
    }

    public func extend(_ credential: LeaseCredential, on resource: Resource, until: Date) async throws {
        guard let username = credential.username else { return }
        try await extend(resource: resource, leaseID: credential.leaseID, username: username, validUntil: until)
    }

    /// Revokes the lease's login: the one it recorded, if that role carries the lease's comment, and any role
    /// carrying the comment (none: nothing to do).
    public func revoke(_ credential: LeaseCredential, on resource: Resource) async throws -> RevocationOutcome {
        try await revoke(resource: resource, leaseID: credential.leaseID, username: credential.username)
    }

    /// A login an interrupted issuance created is found by its `COMMENT ON ROLE` (the lease id).
    public func leftover(of leaseID: UUID, on resource: Resource) async throws -> String? {
        try await login(of: leaseID, on: resource)
    }
}
