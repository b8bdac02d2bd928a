import Foundation

/// The resources access can be requested to, declared as code in `Policies/resources.json` and strictly
/// validated at load (see `Docs/resources.md` for the full reference).
///
/// ```json
/// {"resources": [
///   {"id": "orders-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7,
///    "tags": ["pii"], "attributes": {"pci": false},
///    "postgres": {"host": "${AIRLOCK_DEV_PG_HOST}", "port": "${AIRLOCK_DEV_PG_PORT}", "database": "orders",
///                 "admin_user": "airlock_admin", "admin_password_env": "ORDERS_DB_ADMIN_PASSWORD",
///                 "sslmode": "verify-full", "connection_limit": 5},
///    "roles": {"readonly": {"grants": [{"privileges": ["SELECT"], "object": "table", "schema": "public",
///                                       "tables": "*"}]}}},
///   {"id": "payments-api", "kind": "token", "env": "prod", "audience": "payments-api",
///    "roles": {"read": {"scopes": ["payments:read"]}}}
/// ]}
/// ```
///
/// - Unknown keys anywhere are errors; every error names the resource and the field.
/// - Identifiers (resource ids, role names, schemas, table patterns, database and user names) must match
///   fixed patterns, so nothing that reaches SQL can carry anything but `[a-z0-9_]` (and `*` in patterns).
/// - `postgres` role names may not start with a reserved prefix (`g_`), and no two `postgres` role templates may
///   share a group role (see ``PostgresRoleNames``).
/// - The admin password is never in the file: exactly one of `admin_password_env` (a variable of the injected
///   environment) or `admin_password_file` (a file whose contents, without a trailing newline, are the password).
/// - `host`, `port`, `database` and `admin_user` may contain `${NAME}` references, replaced from the injected
///   environment before validation (an unset variable is an error). `airlock dev` uses this to point the demo
///   resources at a cluster only known at start.
/// - `sslmode` defaults to `verify-full` for a host that is not on this machine (``PostgresSSLMode``);
///   `sslrootcert` (a PEM file of trusted authorities, may use `${NAME}`) only with `verify-ca` or `verify-full`.
public struct ResourceCatalog: Sendable, Hashable {
    /// The resources, in file order.
    public let resources: [Resource]
    /// The kind of each resource, by id (what a pickup may issue).
    public let kinds: [String: Resource.Kind]
    private let positions: [String: Int]

    /// Creates a catalog from already-validated resources (ids are unique).
    public init(resources: [Resource]) {
        self.resources = resources
        var positions: [String: Int] = [:]
        for (index, resource) in resources.enumerated() where positions[resource.id] == nil { positions[resource.id] = index }
        self.positions = positions
        self.kinds = positions.mapValues { resources[$0].kind }
    }

    /// The resource with `id`, if declared.
    public subscript(id: String) -> Resource? {
        positions[id].map { resources[$0] }
    }

    /// Loads and validates the file at `url`, resolving `${NAME}` references and `admin_password_env` from
    /// `environment` (never from the process environment, so callers and tests decide exactly what is visible).
    ///
    /// `providedKinds` are the kinds, beyond `postgres` and `token`, that this broker has a provider for: their
    /// resources carry a `settings` object and role templates as written, which the provider checks.
    public static func load(
        contentsOf url: URL, environment: [String: String], providedKinds: Set<Resource.Kind> = []
    ) throws(ResourceCatalogError) -> ResourceCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ResourceCatalogError(resource: nil, field: "", message: "cannot read `\(url.path)`")
        }
        return try parse(data, environment: environment, providedKinds: providedKinds)
    }

    /// Parses and validates a resources document (see the type's documentation for the format).
    public static func parse(
        _ data: Data, environment: [String: String], providedKinds: Set<Resource.Kind> = []
    ) throws(ResourceCatalogError) -> ResourceCatalog {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch {
            throw ResourceCatalogError(resource: nil, field: "", message: "not valid json: \(error)")
        }
        var reader = ResourceReader(environment: environment, providedKinds: providedKinds)
        let resources = try reader.readDocument(document)
        try checkDistinctGroupRoles(resources) { resource, template in
            PostgresRoleNames.groupRole(
                resourceID: resource.id, template: template, database: resource.postgres?.database ?? "")
        }
        return ResourceCatalog(resources: resources)
    }
}

/// Why a resources file was rejected: the resource (nil before one is identified), the field (a dotted path
/// such as `postgres.port` or `roles.readonly.grants[0].schema`) and what is wrong. Never contains a secret.
public struct ResourceCatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The resource's id (or `resources[N]` when its id is missing or invalid); nil for document-level errors.
    public let resource: String?
    /// The offending field.
    public let field: String
    /// What is wrong, one lowercase line.
    public let message: String

    /// Creates an error.
    public init(resource: String?, field: String, message: String) {
        self.resource = resource
        self.field = field
        self.message = message
    }

    /// `resource `orders-db`, field `postgres.port`: must be between 1 and 65535`.
    public var description: String {
        var parts: [String] = []
        if let resource { parts.append("resource `\(resource)`") }
        if !field.isEmpty { parts.append("field `\(field)`") }
        return parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
    }
}

/// The fixed identifier patterns of the resources file.
public enum ResourceIdentifier {
    /// A resource id: `^[a-z][a-z0-9-]{0,62}$`.
    public static func isResourceID(_ text: String) -> Bool {
        matches(text, first: lower, rest: lower + digits + "-", maxLength: 63)
    }

    /// A role template name: `^[a-z][a-z0-9_]{0,19}$` (it becomes part of PostgreSQL role names).
    public static func isRoleName(_ text: String) -> Bool {
        matches(text, first: lower, rest: lower + digits + "_", maxLength: 20)
    }

    /// A PostgreSQL identifier Airlock will quote: `^[a-z_][a-z0-9_]{0,62}$`.
    public static func isSQLIdentifier(_ text: String) -> Bool {
        matches(text, first: lower + "_", rest: lower + digits + "_", maxLength: 63)
    }

    /// A table pattern: `*`, or an identifier in which `*` may stand for any run of characters.
    public static func isTablePattern(_ text: String) -> Bool {
        text == "*" || matches(text, first: lower + "_*", rest: lower + digits + "_*", maxLength: 63)
    }

    /// An environment variable name: `^[A-Z_][A-Z0-9_]*$`, at most 128 characters.
    public static func isVariableName(_ text: String) -> Bool {
        matches(text, first: upper + "_", rest: upper + digits + "_", maxLength: 128)
    }

    private static let lower = "abcdefghijklmnopqrstuvwxyz"
    private static let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    private static let digits = "0123456789"

    private static func matches(_ text: String, first: String, rest: String, maxLength: Int) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let head = scalars.first, scalars.count <= maxLength, first.unicodeScalars.contains(head) else {
            return false
        }
        return scalars.dropFirst().allSatisfy { rest.unicodeScalars.contains($0) }
    }
}
