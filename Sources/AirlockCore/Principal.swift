/// Who is asking: a person (from an OIDC ID token) or a service (a workload token or an Airlock `alk_` token).
///
/// Principal ids are compared byte for byte (their UTF-8 encoding), never as Unicode strings: Swift's `String ==`
/// treats canonically equivalent forms as equal (`"jose\u{301}"` and `"josé"`, `"\u{212B}"` and `"\u{C5}"`),
/// PostgreSQL's `text =` does not. Equality and hashing of a principal, ``PrincipalID`` and ``sameID(_:_:)`` all
/// follow the bytes, so Swift and SQL agree on who is who.
public struct Principal: Sendable, Hashable, Codable {
    /// Whether a person or a service is asking (`principal.kind` in policies).
    public enum Kind: String, Sendable, Hashable, Codable {
        case user, service
    }

    /// How the principal authenticated.
    public enum Credential: Sendable, Hashable, Codable {
        /// A JWT signed by `issuer` (its `iss`).
        case jwt(issuer: String)
        /// An Airlock `alk_` API token; `audience` is the audience an `introspect` token introspects for.
        case apiToken(audience: String?)
        /// Described rather than authenticated: an admin's what-if for someone else, a replayed request, a test.
        case described
    }

    /// The principal id (`principal.id`): the bare `sub` for the primary human issuer, `ISSUER#sub` for every
    /// other issuer, `token:<name>` for an `alk_` token (see Docs/authentication.md).
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
    /// The principal id of this principal's manager (`principal.manager`), from the token's `manager` claim, when
    /// it has one: qualified by issuer as the manager's own token's id would be (see Docs/authentication.md).
    public var manager: String?
    /// The scopes of an Airlock `alk_` token (`admin`, `auditor`, `service`, `introspect`,
    /// `signals`); empty for JWTs.
    /// The right to approve never comes from a scope, only from policy groups.
    public var scopes: Set<String>
    /// How the principal authenticated.
    public var credential: Credential

    /// Creates a principal.
    public init(
        id: String, kind: Kind, groups: [String] = [], email: String? = nil, mfaAgeSeconds: Int64? = nil,
        onCall: Bool = false, manager: String? = nil, scopes: Set<String> = [], credential: Credential = .described
    ) {
        self.id = id
        self.kind = kind
        self.groups = groups
        self.email = email
        self.mfaAgeSeconds = mfaAgeSeconds
        self.onCall = onCall
        self.manager = manager
        self.scopes = scopes
        self.credential = credential
    }

    /// Whether this principal holds `scope` (an `alk_` token scope).
    public func has(scope: String) -> Bool { scopes.contains(scope) }

    /// Whether this caller acts as a principal of its own: asks, what-ifs for itself, picks up, owns leases and
    /// requests, reviews. Every JWT does; an `alk_` token only with the `service` scope (an `admin`, `auditor`,
    /// `introspect` or `signals` token is a tool, not a principal).
    public var actsAsPrincipal: Bool {
        if case .apiToken = credential { return has(scope: "service") }
        return true
    }

    /// Whether this caller is the principal `id` and acts as one (``actsAsPrincipal``): the owner check of
    /// leases and requests, byte for byte.
    public func owns(_ id: String) -> Bool {
        actsAsPrincipal && Self.sameID(self.id, id)
    }

    /// Whether two principal ids are the same: equal UTF-8 bytes, as PostgreSQL compares `text`.
    public static func sameID(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }

    public static func == (lhs: Principal, rhs: Principal) -> Bool {
        sameID(lhs.id, rhs.id) && lhs.kind == rhs.kind && lhs.groups == rhs.groups && lhs.email == rhs.email
            && lhs.mfaAgeSeconds == rhs.mfaAgeSeconds && lhs.onCall == rhs.onCall
            && sameManager(lhs.manager, rhs.manager) && lhs.scopes == rhs.scopes && lhs.credential == rhs.credential
    }

    /// Whether two optional manager ids are the same, byte for byte as ``sameID(_:_:)``.
    private static func sameManager(_ lhs: String?, _ rhs: String?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): true
        case (let lhs?, let rhs?): sameID(lhs, rhs)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(PrincipalID(id))
        hasher.combine(kind)
        hasher.combine(groups)
        hasher.combine(manager.map(PrincipalID.init))
        hasher.combine(credential)
    }
}

/// A principal id as a set element or dictionary key: equal and hashed by its UTF-8 bytes, so two canonically
/// equivalent but different ids stay two principals (see ``Principal``).
public struct PrincipalID: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The id.
    public let value: String

    /// Wraps `value`.
    public init(_ value: String) { self.value = value }

    public static func == (lhs: PrincipalID, rhs: PrincipalID) -> Bool { Principal.sameID(lhs.value, rhs.value) }

    public static func < (lhs: PrincipalID, rhs: PrincipalID) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in value.utf8 { hasher.combine(byte) }
        hasher.combine(value.utf8.count)
    }

    public var description: String { value }
}
