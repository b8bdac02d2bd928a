/// Who is asking: a person (from an OIDC ID token) or a service (a workload token or an Airlock `alk_` token).
public struct Principal: Sendable, Hashable, Codable {
    /// Whether a person or a service is asking (`principal.kind` in policies).
    public enum Kind: String, Sendable, Hashable, Codable {
        case user, service
    }

    /// The token's subject (`principal.id`).
    public var id: String
    public var kind: Kind
    /// Group memberships (`principal.groups`): from the `groups` claim, or an `alk_` token's groups.
    public var groups: [String]
    /// `principal.email`, when the token has one.
    public var email: String?
    /// Seconds since the last multi-factor authentication (`principal.mfa_age`), when the token shows one.
    public var mfaAgeSeconds: Int64?
    /// `principal.on_call`.
    public var onCall: Bool
    /// The scopes of an Airlock `alk_` token (`admin`, `auditor`, `service`, `introspect`); empty for JWTs.
    /// The right to approve never comes from a scope, only from policy groups.
    public var scopes: Set<String>

    /// Creates a principal.
    public init(
        id: String, kind: Kind, groups: [String] = [], email: String? = nil, mfaAgeSeconds: Int64? = nil,
        onCall: Bool = false, scopes: Set<String> = []
    ) {
        self.id = id
        self.kind = kind
        self.groups = groups
        self.email = email
        self.mfaAgeSeconds = mfaAgeSeconds
        self.onCall = onCall
        self.scopes = scopes
    }

    /// Whether this principal holds `scope` (an `alk_` token scope).
    public func has(scope: String) -> Bool { scopes.contains(scope) }
}
