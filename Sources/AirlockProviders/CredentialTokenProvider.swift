import AirlockCore
import Foundation

/// `token` resources: `alkc_` tokens that resource servers check by introspection. Nothing exists outside
/// Airlock: the token is valid once the lease's activation stores its hash, and ends with the lease (the store
/// revokes the token row in the statement that ends the lease), so extending and revoking have nothing to do here.
public struct CredentialTokenProvider: CredentialProvider {
    public init() {}

    public var kind: Resource.Kind { .token }

    public func mint(_ request: MintRequest) async throws -> MintedCredential {
        let token = try CredentialToken.mint(
            resource: request.resource, role: request.role, subject: request.subject, leaseID: request.leaseID,
            expiresAt: request.expiresAt)
        return MintedCredential(
            leaseID: request.leaseID, expiresAt: token.expiresAt, token: token,
            secretFields: [
                "token": .string(token.secret), "scopes": .array(token.scopes.map { .string($0) }),
                "audience": .string(token.audience),
            ])
    }

    public func extend(_ credential: LeaseCredential, on resource: Resource, until: Date) async throws {}

    public func revoke(_ credential: LeaseCredential, on resource: Resource) async throws -> RevocationOutcome {
        // The token row is revoked by the statement that ends the lease; a lease whose token was never stored has
        // nothing to remove.
        RevocationOutcome(identifier: credential.tokenID?.uuidString.lowercased() ?? "", existed: credential.tokenID != nil)
    }

    public func leftover(of leaseID: UUID, on resource: Resource) async throws -> String? { nil }
}
