import Foundation

/// Reads and validates the resources document. Each `read…` throws the first problem it finds.
struct ResourceReader {
    let environment: [String: String]
    /// Kinds beyond ``fileKinds`` that a registered provider serves (their settings are the provider's to check).
    let providedKinds: Set<Resource.Kind>
    /// The resource being read, for error messages.
    private var current: String?

    init(environment: [String: String], providedKinds: Set<Resource.Kind> = []) {
        self.environment = environment
        self.providedKinds = providedKinds.subtracting(Self.fileKinds)
    }

    static let privileges: [RoleTemplate.Grant.ObjectKind: Set<String>] = [
        .table: ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
        .sequence: ["USAGE", "SELECT", "UPDATE"],
        .schema: ["USAGE"],
    ]
    /// The kinds whose settings this file format describes.
    static let fileKinds: Set<Resource.Kind> = [.postgres, .token]
    static let builtInAttributes: Set<String> = ["id", "kind", "env", "owner", "sensitivity", "tags"]

    private func fail(_ field: String, _ message: String) -> ResourceCatalogError {
        ResourceCatalogError(resource: current, field: field, message: message)
    }

    mutating func readDocument(_ document: JSONValue) throws(ResourceCatalogError) -> [Resource] {
        let top = try object(document, "", allowed: ["resources"])
        guard case .array(let items) = top["resources"] else { throw fail("resources", "must be an array") }
        var resources: [Resource] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            current = "resources[\(index)]"
            let resource = try readResource(item)
            guard seen.insert(resource.id).inserted else { throw fail("id", "duplicate resource id") }
            resources.append(resource)
        }
        return resources
    }

    private mutating func readResource(_ value: JSONValue) throws(ResourceCatalogError) -> Resource {
        guard case .object(let raw) = value else { throw fail("", "each resource must be an object") }
        let id = try string(raw["id"], "id")
        guard ResourceIdentifier.isResourceID(id) else {
            throw fail("id", "`\(id)` must be lowercase letters, digits and `-`, start with a letter, at most 63 characters")
        }
        current = id
        let fields = try object(value, "", allowed: [
            "id", "kind", "env", "owner", "sensitivity", "tags", "attributes", "postgres", "audience", "settings",
            "roles", "description",
        ])
        let kindText = try string(fields["kind"], "kind")
        guard let kind = Resource.Kind(rawValue: kindText), Self.fileKinds.contains(kind) || providedKinds.contains(kind)
        else {
            if !providedKinds.isEmpty {
                let known = (Self.fileKinds.union(providedKinds)).map(\.rawValue).sorted().joined(separator: ", ")
                throw fail("kind", "`\(kindText)` is not a kind this broker issues (\(known))")
            }
            throw fail("kind", "`\(kindText)` is not `postgres` or `token`")
        }
        let env = try string(fields["env"], "env")
        guard ResourceIdentifier.isResourceID(env) else { throw fail("env", "`\(env)` is not a valid environment name") }
        let owner = try fields["owner"].map { value throws(ResourceCatalogError) in try string(value, "owner") } ?? ""
        var sensitivity = 0
        if let value = fields["sensitivity"] {
            guard case .int(let number) = value, (0...10).contains(number) else {
                throw fail("sensitivity", "must be an integer from 0 to 10")
            }
            sensitivity = Int(number)
        }
        let tags = try fields["tags"].map { value throws(ResourceCatalogError) in try strings(value, "tags") } ?? []
        let attributes = try readAttributes(fields["attributes"])

        var postgres: PostgresTarget?
        var audience: String?
        var settings: [String: JSONValue] = [:]
        if kind == .postgres {
            guard let target = fields["postgres"] else { throw fail("postgres", "a postgres resource needs `postgres`") }
            guard fields["audience"] == nil else { throw fail("audience", "only token resources have an audience") }
            postgres = try readPostgres(target)
        } else if kind == .token {
            guard fields["postgres"] == nil else { throw fail("postgres", "a token resource has no `postgres`") }
            audience = try fields["audience"].map { value throws(ResourceCatalogError) in try string(value, "audience") } ?? id
        } else {
            // A kind a registered provider serves: its settings are the provider's to check.
            for section in ["postgres", "audience"] where fields[section] != nil {
                throw fail(section, "a `\(kind)` resource has no `\(section)`; its provider reads `settings`")
            }
            if let value = fields["settings"] {
                guard case .object(let object) = value else { throw fail("settings", "must be an object") }
                settings = object
            }
        }
        if Self.fileKinds.contains(kind), fields["settings"] != nil {
            throw fail("settings", "a `\(kind)` resource has no `settings`")
        }
        guard case .object(let roleFields) = fields["roles"], !roleFields.isEmpty else {
            throw fail("roles", "must be a non-empty object of role templates")
        }
        var roles: [String: RoleTemplate] = [:]
        for (name, template) in roleFields {
            guard ResourceIdentifier.isRoleName(name) else {
                throw fail("roles.\(name)", "role name must match `^[a-z][a-z0-9_]{0,19}$`")
            }
            if kind == .postgres, PostgresRoleNames.isReservedTemplateName(name) {
                throw fail("roles.\(name)", "a postgres role name may not start with "
                    + PostgresRoleNames.reservedTemplatePrefixes.map { "`\($0)`" }.joined(separator: " or ")
                    + ": its logins would be named like Airlock's group roles (`\(PostgresRoleNames.groupRolePrefix)…`)")
            }
            roles[name] = try readTemplate(name, template, kind: kind)
        }
        return Resource(
            id: id, kind: kind, env: env, owner: owner, sensitivity: sensitivity, tags: tags, attributes: attributes,
            postgres: postgres, audience: audience, settings: settings, roles: roles)
    }

    private func readAttributes(_ value: JSONValue?) throws(ResourceCatalogError) -> [String: JSONValue] {
        guard let value else { return [:] }
        guard case .object(let fields) = value else { throw fail("attributes", "must be an object") }
        for (name, attribute) in fields {
            guard ResourceIdentifier.isSQLIdentifier(name), !Self.builtInAttributes.contains(name) else {
                throw fail("attributes.\(name)", "not a valid attribute name (or one of the built-in attributes)")
            }
            switch attribute {
            case .string, .int, .bool: continue
            case .array(let items) where items.allSatisfy({ if case .string = $0 { true } else { false } }): continue
            default: throw fail("attributes.\(name)", "must be a string, integer, boolean or list of strings")
            }
        }
        return fields
    }

    private func readPostgres(_ value: JSONValue) throws(ResourceCatalogError) -> PostgresTarget {
        if case .object(let raw) = value, raw["admin_password"] != nil {
            throw fail("postgres.admin_password", "passwords never belong in the resources file: use `admin_password_env` or `admin_password_file`")
        }
        let fields = try object(value, "postgres", allowed: [
            "host", "port", "database", "admin_user", "admin_password_env", "admin_password_file", "sslmode",
            "sslrootcert", "connection_limit", "scram_iterations",
        ])
        let host = try substituted(try string(fields["host"], "postgres.host"), "postgres.host")
        guard !host.isEmpty, host.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || ".-_:/[]".unicodeScalars.contains($0) })
        else { throw fail("postgres.host", "`\(host)` is not a host name or address") }
        let port: Int
        switch fields["port"] {
        case .int(let number)?: port = Int(number)
        case .string(let text)?:
            let resolved = try substituted(text, "postgres.port")
            guard let number = Int(resolved) else { throw fail("postgres.port", "`\(resolved)` is not a port number") }
            port = number
        default: throw fail("postgres.port", "required: an integer (or a `${NAME}` string)")
        }
        guard (1...65535).contains(port) else { throw fail("postgres.port", "must be between 1 and 65535") }
        let database = try substituted(try string(fields["database"], "postgres.database"), "postgres.database")
        guard ResourceIdentifier.isSQLIdentifier(database) else {
            throw fail("postgres.database", "`\(database)` must match `^[a-z_][a-z0-9_]{0,62}$`")
        }
        let adminUser = try substituted(try string(fields["admin_user"], "postgres.admin_user"), "postgres.admin_user")
        guard ResourceIdentifier.isSQLIdentifier(adminUser) else {
            throw fail("postgres.admin_user", "`\(adminUser)` must match `^[a-z_][a-z0-9_]{0,62}$`")
        }
        let password = try readPassword(fields)
        // Without `sslmode`, `verify-full` for a target that is not on this machine.
        var sslMode = PostgresSSLMode.default(forHost: host)
        if let value = fields["sslmode"] {
            let name = try string(value, "postgres.sslmode")
            guard let mode = PostgresSSLMode(rawValue: name) else {
                throw fail("postgres.sslmode", "`\(name)` is not `disable`, `prefer`, `require`, `verify-ca` or `verify-full`")
            }
            sslMode = mode
        }
        var sslRootCert: String?
        if let value = fields["sslrootcert"] {
            let path = try substituted(try string(value, "postgres.sslrootcert"), "postgres.sslrootcert")
            guard !path.isEmpty else { throw fail("postgres.sslrootcert", "must name a PEM file (or `system`)") }
            guard sslMode.verifiesCertificate else {
                throw fail("postgres.sslrootcert", "needs `sslmode` verify-ca or verify-full (it is `\(sslMode)`)")
            }
            sslRootCert = path
        }
        var limit = 5
        if let value = fields["connection_limit"] {
            guard case .int(let number) = value, (1...1000).contains(number) else {
                throw fail("postgres.connection_limit", "must be an integer from 1 to 1000")
            }
            limit = Int(number)
        }
        var iterations = PostgresTarget.defaultSCRAMIterations
        if let value = fields["scram_iterations"] {
            guard case .int(let number) = value, PostgresTarget.scramIterationRange.contains(Int(number)) else {
                throw fail("postgres.scram_iterations", "must be an integer from 1 to 1000000")
            }
            iterations = Int(number)
        }
        return PostgresTarget(
            host: host, port: port, database: database, adminUser: adminUser, adminPassword: password,
            sslMode: sslMode, sslRootCert: sslRootCert, connectionLimit: limit, scramIterations: iterations)
    }

    private func readPassword(_ fields: [String: JSONValue]) throws(ResourceCatalogError) -> String {
        switch (fields["admin_password_env"], fields["admin_password_file"]) {
        case (let env?, nil):
            let name = try string(env, "postgres.admin_password_env")
            guard ResourceIdentifier.isVariableName(name) else {
                throw fail("postgres.admin_password_env", "`\(name)` is not an environment variable name")
            }
            guard let password = environment[name], !password.isEmpty else {
                throw fail("postgres.admin_password_env", "the environment variable `\(name)` is not set")
            }
            return password
        case (nil, let file?):
            let path = try string(file, "postgres.admin_password_file")
            guard path.hasPrefix("/") else {
                throw fail("postgres.admin_password_file", "cannot read the absolute path `\(path)`")
            }
            let text: String
            do throws(SecretFileError) {
                text = try SecretFile.readText(path)
            } catch where error.code == SecretFileError.unreadableCode {
                throw fail("postgres.admin_password_file", "cannot read the absolute path `\(path)`")
            } catch {
                throw fail("postgres.admin_password_file", error.message)
            }
            let password = text.hasSuffix("\r\n") ? String(text.dropLast(2))
                : text.hasSuffix("\n") ? String(text.dropLast()) : text
            guard !password.isEmpty else { throw fail("postgres.admin_password_file", "`\(path)` is empty") }
            return password
        case (nil, nil):
            throw fail("postgres.admin_password_env", "one of `admin_password_env` or `admin_password_file` is required")
        case (.some, .some):
            throw fail("postgres.admin_password_file", "give only one of `admin_password_env` and `admin_password_file`")
        }
    }

    private func readTemplate(
        _ name: String, _ value: JSONValue, kind: Resource.Kind
    ) throws(ResourceCatalogError) -> RoleTemplate {
        let path = "roles.\(name)"
        guard Self.fileKinds.contains(kind) else {
            guard case .object(let fields) = value else { throw fail(path, "must be an object") }
            return RoleTemplate(name: name, settings: fields)
        }
        if kind == .token {
            let fields = try object(value, path, allowed: ["scopes"])
            let scopes = try strings(fields["scopes"] ?? .null, "\(path).scopes")
            guard !scopes.isEmpty else { throw fail("\(path).scopes", "must list at least one scope") }
            for scope in scopes where !scope.unicodeScalars.allSatisfy({
                CharacterSet.alphanumerics.contains($0) || ":._-".unicodeScalars.contains($0)
            }) { throw fail("\(path).scopes", "`\(scope)` is not a valid scope") }
            return RoleTemplate(name: name, scopes: scopes)
        } else {
            let fields = try object(value, path, allowed: ["grants"])
            guard case .array(let items)? = fields["grants"], !items.isEmpty else {
                throw fail("\(path).grants", "must be a non-empty array of grants")
            }
            var grants: [RoleTemplate.Grant] = []
            for (index, item) in items.enumerated() {
                grants.append(try readGrant(item, "\(path).grants[\(index)]"))
            }
            return RoleTemplate(name: name, grants: grants)
        }
    }

    private func readGrant(_ value: JSONValue, _ path: String) throws(ResourceCatalogError) -> RoleTemplate.Grant {
        let fields = try object(value, path, allowed: ["privileges", "object", "schema", "tables", "sequences"])
        let objectText = try string(fields["object"], "\(path).object")
        guard let objectKind = RoleTemplate.Grant.ObjectKind(rawValue: objectText) else {
            throw fail("\(path).object", "`\(objectText)` is not `table`, `sequence` or `schema`")
        }
        let privileges = try strings(fields["privileges"] ?? .null, "\(path).privileges")
        let allowed = Self.privileges[objectKind] ?? []
        guard !privileges.isEmpty else { throw fail("\(path).privileges", "must list at least one privilege") }
        for privilege in privileges where !allowed.contains(privilege) {
            throw fail("\(path).privileges", "`\(privilege)` is not allowed on a \(objectText) (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        guard Set(privileges).count == privileges.count else { throw fail("\(path).privileges", "duplicate privilege") }
        let schema = try string(fields["schema"], "\(path).schema")
        guard ResourceIdentifier.isSQLIdentifier(schema) else {
            throw fail("\(path).schema", "`\(schema)` must match `^[a-z_][a-z0-9_]{0,62}$`")
        }
        let patternKey = objectKind == .sequence ? "sequences" : "tables"
        for key in ["tables", "sequences"] where key != patternKey && fields[key] != nil {
            throw fail("\(path).\(key)", "not allowed on a \(objectText) grant")
        }
        var pattern = "*"
        if objectKind != .schema, let value = fields[patternKey] {
            pattern = try string(value, "\(path).\(patternKey)")
            guard ResourceIdentifier.isTablePattern(pattern) else {
                throw fail("\(path).\(patternKey)", "`\(pattern)` must be `*` or a name of `[a-z0-9_]` with `*` wildcards")
            }
        } else if objectKind == .schema, fields["tables"] != nil {
            throw fail("\(path).tables", "not allowed on a schema grant")
        }
        return RoleTemplate.Grant(privileges: privileges, objectKind: objectKind, schema: schema, pattern: pattern)
    }

    // MARK: - Primitives

    private func object(
        _ value: JSONValue, _ path: String, allowed: Set<String>
    ) throws(ResourceCatalogError) -> [String: JSONValue] {
        guard case .object(let fields) = value else { throw fail(path, "must be an object") }
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw fail(path.isEmpty ? key : "\(path).\(key)", "unknown key")
        }
        return fields
    }

    private func string(_ value: JSONValue?, _ field: String) throws(ResourceCatalogError) -> String {
        guard let value else { throw fail(field, "required") }
        guard case .string(let text) = value else { throw fail(field, "must be a string") }
        return text
    }

    private func strings(_ value: JSONValue, _ field: String) throws(ResourceCatalogError) -> [String] {
        guard case .array(let items) = value else { throw fail(field, "must be an array of strings") }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw fail(field, "must be an array of strings") }
            result.append(text)
        }
        return result
    }

    /// Replaces every `${NAME}` in `text` from the environment.
    private func substituted(_ text: String, _ field: String) throws(ResourceCatalogError) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw fail(field, "unterminated `${` reference")
            }
            let name = String(rest[start.upperBound..<end])
            guard ResourceIdentifier.isVariableName(name) else { throw fail(field, "`${\(name)}` is not a variable name") }
            guard let value = environment[name] else { throw fail(field, "the environment variable `\(name)` is not set") }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
