import Foundation

/// An `alkc_` credential token minted for a `token` resource: an opaque bearer token that a resource server checks
/// through introspection.
///
/// The secret exists only in this value, which goes once to its owner; Airlock stores ``hash`` (SHA-256). The
/// descriptions never show the secret, so the value cannot leak through string interpolation or a log line.
public struct CredentialToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The `api_tokens` row id.
    public let id: UUID
    /// The token itself: `alkc_` + 256 random bits in base62 + a checksum. Show it once; never store or log it.
    public let secret: String
    /// The role template's scopes.
    public let scopes: [String]
    /// The resource's audience.
    public let audience: String
    /// The principal it was issued to (introspection's `sub`).
    public let subject: String
    /// The lease it belongs to.
    public let leaseID: UUID
    /// When it stops being active.
    public let expiresAt: Date

    /// Mints a fresh token for `role` of the `token` resource `resource`, issued to `subject` under `leaseID`.
    public static func mint(
        resource: Resource, role: String, subject: String, leaseID: UUID, expiresAt: Date
    ) throws(CredentialTokenError) -> CredentialToken {
        guard let audience = resource.audience else {
            throw CredentialTokenError("resource `\(resource.id)` does not issue tokens")
        }
        guard let template = resource.roles[role] else {
            throw CredentialTokenError("resource `\(resource.id)` has no role `\(role)`")
        }
        return CredentialToken(
            id: UUID(), secret: ApiTokenFormat.generate(prefix: .credential), scopes: template.scopes,
            audience: audience, subject: subject, leaseID: leaseID, expiresAt: expiresAt)
    }

    /// SHA-256 of the secret: what is stored and looked up.
    public var hash: [UInt8] { ApiTokenFormat.hash(secret) }

    public var description: String {
        "credential token \(id.uuidString.lowercased()) (aud \(audience), expires \(AuditTime.format(expiresAt)))"
    }

    public var debugDescription: String { description }
}

/// A token that cannot be minted for the resource and role asked.
public struct CredentialTokenError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
