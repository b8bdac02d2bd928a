/// Something access can be requested to: a PostgreSQL database or a token audience.
/// Declared as code in `Policies/resources.json` and validated at load, like policies.
public struct Resource: Sendable, Hashable {
    /// What kind of credential the resource issues: the name a credential provider is registered under.
    ///
    /// Open-ended on purpose: the kinds are whatever providers the broker registers (`postgres` logins and `alkc_`
    /// `token`s today). A name is lowercase letters, digits, `_` and `-`, starting with a letter, 1–32 characters.
    public struct Kind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String

        /// The kind named `rawValue`, or nil when the name is not a valid kind name.
        public init?(rawValue: String) {
            guard Self.isValidName(rawValue) else { return nil }
            self.rawValue = rawValue
        }

        private init(validated name: String) {
            rawValue = name
        }

        /// PostgreSQL login roles.
        public static let postgres = Kind(validated: "postgres")
        /// `alkc_` tokens checked by introspection.
        public static let token = Kind(validated: "token")

        public var description: String { rawValue }

        static func isValidName(_ name: String) -> Bool {
            let scalars = Array(name.unicodeScalars)
            guard let first = scalars.first, scalars.count <= 32, ("a"..."z").contains(first) else { return false }
            return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        }
    }

    /// `resource.id`: lowercase letters, digits and `-`, starting with a letter, at most 63 characters.
    public var id: String
    public var kind: Kind
    /// `resource.env`, e.g. `prod`, `staging`.
    public var env: String
    /// `resource.owner`: the owning team.
    public var owner: String
    /// `resource.sensitivity`: 0 to 10.
    public var sensitivity: Int
    /// `resource.tags`.
    public var tags: [String]
    /// Declared extra attributes (matching `Policies/schema.airlock` declarations such as `resource.pci`).
    public var attributes: [String: JSONValue]
    /// For `postgres` resources: where and how to reach the target.
    public var postgres: PostgresTarget?
    /// For `token` resources: the audience minted tokens carry.
    public var audience: String?
    /// For a kind served by a provider beyond the two the file format describes: the resource's `settings` object,
    /// which that provider checks (``CredentialProvider/validate(_:)``). Empty for `postgres` and `token`.
    public var settings: [String: JSONValue]
    /// The role templates (`request.role`), by name.
    public var roles: [String: RoleTemplate]

    /// Creates a resource.
    public init(
        id: String, kind: Kind, env: String, owner: String = "", sensitivity: Int = 0, tags: [String] = [],
        attributes: [String: JSONValue] = [:], postgres: PostgresTarget? = nil, audience: String? = nil,
        settings: [String: JSONValue] = [:], roles: [String: RoleTemplate]
    ) {
        self.id = id
        self.kind = kind
        self.env = env
        self.owner = owner
        self.sensitivity = sensitivity
        self.tags = tags
        self.attributes = attributes
        self.postgres = postgres
        self.audience = audience
        self.settings = settings
        self.roles = roles
    }
}

/// The target database of a `postgres` resource and the administrator Airlock uses there.
public struct PostgresTarget: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// The database issued logins may connect to (and only that one).
    public var database: String
    /// The administrator role Airlock connects as (needs CREATEROLE; never handed out).
    public var adminUser: String
    /// The administrator's password: read from the environment or a file at load, never from git.
    /// Envelope-encrypted whenever it is stored. Never log it.
    public var adminPassword: String
    /// `sslmode` for Airlock's admin connection (and the one issued logins are told to use): as configured, or
    /// ``PostgresSSLMode/default(forHost:)`` (`verify-full` unless the target is on this machine).
    public var sslMode: PostgresSSLMode
    /// `sslrootcert`: a PEM file of the authorities trusted to sign the target's certificate (or `system`), for
    /// `verify-ca` and `verify-full`; nil for the system's.
    public var sslRootCert: String?
    /// The `CONNECTION LIMIT` of every issued login.
    public var connectionLimit: Int
    /// The PBKDF2 iteration count of the SCRAM-SHA-256 verifier Airlock sends for each issued login's password.
    ///
    /// Key stretching protects passwords a person chose; an issued password is 40 random base62 characters
    /// (about 238 bits), which no iteration count makes easier or harder to guess. PostgreSQL's own 4096 rounds
    /// cost about 2 ms of the target's CPU for every issued login (`CREATE ROLE` checks the verifier against an
    /// empty password) and again in the client at every login, so Airlock defaults to
    /// ``defaultSCRAMIterations``. Set 4096 or more where a rule or a client demands it.
    public var scramIterations: Int

    /// The default of ``scramIterations``.
    public static let defaultSCRAMIterations = 128
    /// The accepted range of ``scramIterations``.
    public static let scramIterationRange = 1...1_000_000

    /// Creates a target; without `sslMode`, the default for `host` (``PostgresSSLMode/default(forHost:)``).
    public init(
        host: String, port: Int, database: String, adminUser: String, adminPassword: String,
        sslMode: PostgresSSLMode? = nil, sslRootCert: String? = nil, connectionLimit: Int = 5,
        scramIterations: Int = defaultSCRAMIterations
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.adminUser = adminUser
        self.adminPassword = adminPassword
        self.sslMode = sslMode ?? .default(forHost: host)
        self.sslRootCert = sslRootCert
        self.connectionLimit = connectionLimit
        self.scramIterations = scramIterations
    }
}

/// A role template: structured privileges that Airlock turns into GRANT statements itself (never free SQL).
public struct RoleTemplate: Sendable, Hashable {
    /// One grant: privileges on objects of a kind in a schema, optionally only tables matching a pattern.
    public struct Grant: Sendable, Hashable {
        /// What the privileges apply to.
        public enum ObjectKind: String, Sendable, Hashable, Codable {
            case table, sequence, schema
        }

        /// Privileges, upper case: for tables SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER;
        /// for sequences USAGE, SELECT, UPDATE; for schemas USAGE.
        public var privileges: [String]
        public var objectKind: ObjectKind
        /// The schema name (a validated identifier).
        public var schema: String
        /// `*` for every object of the kind in the schema, or a table name pattern with `*` wildcards
        /// (matched by Airlock against the catalog, each match quoted).
        public var pattern: String

        /// Creates a grant.
        public init(privileges: [String], objectKind: ObjectKind, schema: String, pattern: String = "*") {
            self.privileges = privileges
            self.objectKind = objectKind
            self.schema = schema
            self.pattern = pattern
        }
    }

    /// The template's name, e.g. `readonly` (lowercase letters, digits, `_`; at most 20 characters, since it
    /// becomes part of role names).
    public var name: String
    public var grants: [Grant]
    /// For `token` resources: the scopes a minted token carries.
    public var scopes: [String]
    /// For a kind served by a provider beyond `postgres` and `token`: the template as written, which that provider
    /// checks.
    public var settings: [String: JSONValue]

    /// Creates a template.
    public init(name: String, grants: [Grant] = [], scopes: [String] = [], settings: [String: JSONValue] = [:]) {
        self.name = name
        self.grants = grants
        self.scopes = scopes
        self.settings = settings
    }
}

extension PostgresTarget: CustomStringConvertible, CustomDebugStringConvertible {
    /// Where and as whom, never the admin password (so a target printed by reflection, a log line or a
    /// service's description cannot leak it).
    public var description: String {
        "PostgresTarget(\(adminUser)@\(host):\(port)/\(database), sslmode \(sslMode), password ***)"
    }

    public var debugDescription: String { description }
}
