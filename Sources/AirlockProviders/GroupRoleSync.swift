import AirlockCore
import Crypto
import Logging
import PostgresNIO

/// What ``PostgresRoleProvider/prepare(resource:role:force:)`` found and changed on the target.
public struct GroupRolePreparation: Sendable, Equatable {
    /// The group role issued logins of this template join.
    public var groupRole: String
    /// Whether this call created the group role.
    public var created: Bool
    /// `GRANT` statements run (one per object).
    public var grants: Int
    /// `REVOKE` statements run (one per object).
    public var revokes: Int
    /// Catalog objects left alone because their names are not plain lower-case identifiers.
    public var skippedObjects: [String]
    /// Databases on the cluster that PUBLIC may connect to: issued logins could connect there too.
    public var databasesOpenToPublic: [String]
    /// Other databases of the cluster on which this call revoked the group role's privileges (it must reach only
    /// its resource's database), as PostgreSQL quotes their names.
    public var databasesRevoked: [String] = []
}

/// Brings a group role's privileges in step with a role template, in one transaction on the target database.
struct GroupRoleSync {
    /// An object a privilege is held on.
    struct Object: Hashable, Comparable {
        enum Kind: String, Comparable {
            case database, schema, table, sequence
            static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
        }

        var kind: Kind
        var schema: String
        var name: String

        static func < (lhs: Object, rhs: Object) -> Bool {
            (lhs.kind, lhs.schema, lhs.name) < (rhs.kind, rhs.schema, rhs.name)
        }

        func sql() throws(ProviderError) -> String {
            switch kind {
            case .database: return "DATABASE \(try SQLIdentifier.quoted(name))"
            case .schema: return "SCHEMA \(try SQLIdentifier.quoted(name))"
            case .table: return "TABLE \(try SQLIdentifier.quoted(schema)).\(try SQLIdentifier.quoted(name))"
            case .sequence: return "SEQUENCE \(try SQLIdentifier.quoted(schema)).\(try SQLIdentifier.quoted(name))"
            }
        }
    }

    static let allowedPrivileges: [RoleTemplate.Grant.ObjectKind: Set<String>] = [
        .table: ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
        .sequence: ["USAGE", "SELECT", "UPDATE"],
        .schema: ["USAGE"],
    ]

    let groupRole: String
    /// `COMMENT ON ROLE` of a group role this sync creates.
    let comment: String
    let template: RoleTemplate
    let database: String

    /// A digest of everything that decides the group role's privileges, to skip unchanged templates.
    var digest: String {
        var text = "\(groupRole)|\(database)"
        for grant in template.grants {
            text += "|\(grant.objectKind.rawValue):\(grant.schema):\(grant.pattern):"
                + grant.privileges.sorted().joined(separator: ",")
        }
        return SHA256.hash(data: Array(text.utf8)).map { String(UInt16($0) | 0x100, radix: 16).dropFirst() }.joined()
    }

    /// Checks the template before anything touches the target.
    func validate() throws(ProviderError) {
        _ = try SQLIdentifier.quoted(database)
        for grant in template.grants {
            _ = try SQLIdentifier.quoted(grant.schema)
            let allowed = Self.allowedPrivileges[grant.objectKind] ?? []
            guard !grant.privileges.isEmpty, grant.privileges.allSatisfy({ allowed.contains($0) }) else {
                throw ProviderError(
                    code: "invalid_role_template",
                    message: "template \(template.name): privileges on a \(grant.objectKind.rawValue) must be among "
                        + allowed.sorted().joined(separator: ", "))
            }
            let patternCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789_*")
            guard (1...63).contains(grant.pattern.count), grant.pattern.allSatisfy({ patternCharacters.contains($0) })
            else {
                throw ProviderError(
                    code: "invalid_role_template",
                    message: "template \(template.name): a pattern is `*` or lower-case letters, digits, `_` and `*`")
            }
        }
    }

    /// Runs inside a transaction: locks, creates the role if missing, then grants and revokes the difference.
    func apply(on connection: PostgresConnection, logger: Logger) async throws -> GroupRolePreparation {
        // Every group role change in this database runs under one transaction-scoped advisory lock: two GRANTs on
        // the same table (even for different group roles) would otherwise race on its catalog row.
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
        let role = try SQLIdentifier.quoted(groupRole)
        var created = false
        if try await roleOID(connection, logger) == nil {
            try await run("CREATE ROLE \(role) NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS", connection, logger)
            try await run("COMMENT ON ROLE \(role) IS '\(comment)'", connection, logger)
            created = true
        }
        var skipped: [String] = []
        let desired = try await desiredPrivileges(connection, logger, skipped: &skipped)
        let current = try await currentPrivileges(connection, logger, skipped: &skipped)
        var grants = 0
        var revokes = 0
        for object in Set(current.keys).union(desired.keys).sorted() {
            let have = current[object] ?? []
            let want = desired[object] ?? []
            if !have.subtracting(want).isEmpty {
                let list = have.subtracting(want).sorted().joined(separator: ", ")
                try await run("REVOKE \(list) ON \(try object.sql()) FROM \(role)", connection, logger)
                revokes += 1
            }
            if !want.subtracting(have).isEmpty {
                let list = want.subtracting(have).sorted().joined(separator: ", ")
                try await run("GRANT \(list) ON \(try object.sql()) TO \(role)", connection, logger)
                grants += 1
            }
        }
        let elsewhere = try await revokeOtherDatabases(connection, logger)
        let open = try await connection.query(PostgresRoleProvider.openToPublicQuery, logger: logger)
            .collect().map { try $0.decode(String.self) }
        return GroupRolePreparation(
            groupRole: groupRole, created: created, grants: grants, revokes: revokes,
            skippedObjects: Array(Set(skipped)).sorted(), databasesOpenToPublic: open, databasesRevoked: elsewhere)
    }

    /// Revokes whatever the group role holds on any other database of the cluster (a grant made by hand, or by a
    /// group role name that two resources shared before names were made distinct), then checks that nothing is
    /// left: a privilege the administrator cannot revoke (granted by another role) fails the sync, so no login is
    /// issued into a group role that reaches another database.
    ///
    /// Database ACLs are cluster-wide, so one connection reaches them all. The names come from the catalog and may
    /// not be identifiers Airlock would write itself: PostgreSQL's `quote_ident` quotes them, so no odd name keeps
    /// a grant.
    private func revokeOtherDatabases(_ connection: PostgresConnection, _ logger: Logger) async throws -> [String] {
        let query: PostgresQuery = """
            SELECT DISTINCT quote_ident(d.datname) FROM pg_catalog.pg_database d
            CROSS JOIN LATERAL aclexplode(d.datacl) a
            WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = \(groupRole))
              AND d.datname <> \(database)
            ORDER BY 1
            """
        let others = try await connection.query(query, logger: logger).collect().map { try $0.decode(String.self) }
        let role = try SQLIdentifier.quoted(groupRole)
        for name in others {
            try await run("REVOKE ALL ON DATABASE \(name) FROM \(role)", connection, logger)
        }
        let left = try await connection.query(query, logger: logger).collect().map { try $0.decode(String.self) }
        guard left.isEmpty else {
            throw ProviderError(
                code: "group_role_reaches_other_databases",
                message: "group role \(groupRole) still holds privileges on databases \(left.joined(separator: ", ")) "
                    + "that the administrator cannot revoke (granted by another role): revoke them as their grantor")
        }
        return others
    }

    /// The advisory lock key for group role changes: the first 8 bytes of SHA-256("airlock.group-roles").
    static let lockKey: Int64 = {
        let bytes = Array(SHA256.hash(data: Array("airlock.group-roles".utf8)).prefix(8))
        return Int64(bitPattern: bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }()

    private func roleOID(_ connection: PostgresConnection, _ logger: Logger) async throws -> Int64? {
        let rows = try await connection.query(
            "SELECT oid::int8 FROM pg_catalog.pg_roles WHERE rolname = \(groupRole)", logger: logger
        ).collect()
        return try rows.first?.decode(Int64.self)
    }

    private func desiredPrivileges(
        _ connection: PostgresConnection, _ logger: Logger, skipped: inout [String]
    ) async throws -> [Object: Set<String>] {
        var desired: [Object: Set<String>] = [Object(kind: .database, schema: "", name: database): ["CONNECT"]]
        for grant in template.grants {
            desired[Object(kind: .schema, schema: "", name: grant.schema), default: []].insert("USAGE")
            guard grant.objectKind != .schema else { continue }
            let kinds = grant.objectKind == .sequence ? ["S"] : ["r", "p", "v", "m", "f"]
            let like = grant.pattern.replacingOccurrences(of: "_", with: "\\_").replacingOccurrences(of: "*", with: "%")
            let rows = try await connection.query(
                """
                SELECT c.relname::text FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = \(grant.schema) AND c.relkind::text = ANY(\(kinds)) AND c.relname LIKE \(like)
                """,
                logger: logger
            ).collect()
            for row in rows {
                let name = try row.decode(String.self)
                guard SQLIdentifier.isValid(name) else {
                    skipped.append("\(grant.schema).\(name)")
                    continue
                }
                let kind: Object.Kind = grant.objectKind == .sequence ? .sequence : .table
                desired[Object(kind: kind, schema: grant.schema, name: name), default: []].formUnion(grant.privileges)
            }
        }
        return desired
    }

    private func currentPrivileges(
        _ connection: PostgresConnection, _ logger: Logger, skipped: inout [String]
    ) async throws -> [Object: Set<String>] {
        let rows = try await connection.query(
            """
            WITH g AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = \(groupRole))
            SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname::text, c.relname::text,
                   a.privilege_type
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE a.grantee = (SELECT oid FROM g)
            UNION ALL
            SELECT 'schema', '', n.nspname::text, a.privilege_type
              FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
             WHERE a.grantee = (SELECT oid FROM g)
            UNION ALL
            SELECT 'database', '', d.datname::text, a.privilege_type
              FROM pg_catalog.pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
             WHERE a.grantee = (SELECT oid FROM g) AND d.datname = current_database()
            """,
            logger: logger
        ).collect()
        var current: [Object: Set<String>] = [:]
        for row in rows {
            let (kind, schema, name, privilege) = try row.decode((String, String, String, String).self)
            guard let kind = Object.Kind(rawValue: kind),
                  SQLIdentifier.isValid(name), kind == .database || kind == .schema || SQLIdentifier.isValid(schema)
            else {
                skipped.append(schema.isEmpty ? name : "\(schema).\(name)")
                continue
            }
            current[Object(kind: kind, schema: schema, name: name), default: []].insert(privilege)
        }
        return current
    }

    private func run(_ sql: String, _ connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }
}
