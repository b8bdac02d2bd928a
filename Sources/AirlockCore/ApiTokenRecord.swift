import Foundation

/// What an Airlock `alk_` token may do. The right to approve never comes from a scope, only from policy groups (and
/// a token, a service, approves only where a requirement includes services).
public enum ApiTokenScope: String, Sendable, Hashable, Codable, CaseIterable {
    /// Administration: tokens, webhooks, signals, the kill switch.
    case admin
    /// Reading the audit log and every request and lease.
    case auditor
    /// Acting as a service principal with the token's groups; without it a token is no principal at all.
    case service
    /// A resource server calling `POST /v1/tokens/introspect`, for the token's audience only.
    case introspect
    /// A security integration (an EDR, a SIEM) reporting, listing and withdrawing external risk signals
    /// (`/v1/signals`); nothing else.
    case signals
    /// A Shared Signals receiver managing its own streams of Airlock's security events (create, change, delete,
    /// verify, poll); nothing else.
    case ssfManage = "ssf.manage"
    /// A Shared Signals receiver reading its own streams' configuration and status, and polling them.
    case ssfRead = "ssf.read"
}

/// An Airlock API token as stored: everything but the secret, which Airlock never keeps.
public struct ApiTokenRecord: Sendable, Hashable {
    /// The token's id (`DELETE /v1/tokens/{id}`).
    public var id: UUID
    /// A name for people (may be empty).
    public var name: String
    /// What the token may do.
    public var scopes: [ApiTokenScope]
    /// The groups of the service principal the token acts as.
    public var groups: [String]
    /// When it was created.
    public var createdAt: Date
    /// When it stops working, if ever.
    public var expiresAt: Date?
    /// When it last authenticated, to the minute.
    public var lastUsedAt: Date?
    /// When it was revoked, if it was.
    public var revokedAt: Date?
    /// The audience an `introspect` token introspects for: it sees only `alkc_` tokens minted for it.
    public var audience: String?

    /// Creates a record.
    public init(
        id: UUID, name: String, scopes: [ApiTokenScope], groups: [String], createdAt: Date,
        expiresAt: Date? = nil, lastUsedAt: Date? = nil, revokedAt: Date? = nil, audience: String? = nil
    ) {
        self.audience = audience
        self.id = id
        self.name = name
        self.scopes = scopes
        self.groups = groups
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// The principal this token authenticates as: `token:<name>` (or `token:<id>` when unnamed), a service with
    /// the token's groups, scopes and audience. It acts as a principal only with the `service` scope
    /// (``Principal/actsAsPrincipal``).
    public var principal: Principal {
        Principal(
            id: Self.principalPrefix + (name.isEmpty ? id.uuidString.lowercased() : name), kind: .service,
            groups: groups, scopes: Set(scopes.map(\.rawValue)), credential: .apiToken(audience: audience))
    }

    /// The prefix of every token's principal id, `token:`; no JWT subject maps to an id with it.
    public static let principalPrefix = "token:"
}
