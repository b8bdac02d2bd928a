import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The resources Airlock has served, as last configured: the `resources` rows. Each start records the catalog
/// (connection settings, the admin password sealed with envelope encryption into `admin_secret`), so that a lease
/// whose resource has since left the catalog is still revoked, with the settings it was issued under.
public struct KnownResources: Sendable {
    let database: Database
    let keys: DataKeyStore
    let logger: Logger

    public init(database: Database, keys: DataKeyStore, logger: Logger) {
        self.database = database
        self.keys = keys
        self.logger = logger
    }

    /// Records `resources` as they are configured now (settings and sealed admin password), one row each.
    public func record(_ resources: [Resource]) async throws {
        for resource in resources {
            let row = ResourceRow(resource)
            var secret: Data?
            if let password = resource.postgres?.adminPassword {
                secret = Data(try await keys.seal(Array(password.utf8), context: Self.context(resource.id), logger: logger).bytes)
            }
            try await database.client.query("""
                INSERT INTO resources (id, kind, env, owner, sensitivity, tags, attributes, connection, roles, admin_secret)
                VALUES (\(resource.id), \(resource.kind.rawValue), \(resource.env), \(resource.owner),
                        \(resource.sensitivity), \(resource.tags), \(row.attributes)::jsonb, \(row.connection)::jsonb,
                        \(row.roles)::jsonb, \(secret))
                ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, env = EXCLUDED.env, owner = EXCLUDED.owner,
                    sensitivity = EXCLUDED.sensitivity, tags = EXCLUDED.tags, attributes = EXCLUDED.attributes,
                    connection = EXCLUDED.connection, roles = EXCLUDED.roles, admin_secret = EXCLUDED.admin_secret,
                    updated_at = now()
                """, logger: logger)
        }
    }

    /// The resources not among `configured` that still have leases whose credential may exist (active, issuing
    /// or revoking), with how many each, by resource id.
    public func stranded(configured: Set<String>) async throws -> [String: Int] {
        let rows = try await database.client.query("""
            SELECT resource_id, count(*)::int8 FROM leases
            WHERE status IN ('active', 'issuing', 'revoking') AND NOT (resource_id = ANY(\(Array(configured))::text[]))
            GROUP BY resource_id ORDER BY resource_id
            """, logger: logger)
        var stranded: [String: Int] = [:]
        for try await (id, count) in rows.decode((String, Int64).self) { stranded[id] = Int(count) }
        return stranded
    }

    /// The resource `id` as last recorded, with its admin password opened, for revoking its leases after it left
    /// the catalog; nil if it was never recorded. Its role templates are not restored: nothing can be issued
    /// from it, only revoked.
    ///
    /// - Throws: ``StoreError`` `no_recorded_password` for a PostgreSQL resource recorded without its admin
    ///   password (by a broker from before this record existed).
    public func lastKnown(_ id: String) async throws -> Resource? {
        let rows = try await database.client.query("""
            SELECT kind, env, owner, sensitivity, tags, connection::text, admin_secret FROM resources WHERE id = \(id)
            """, logger: logger)
        for try await (kind, env, owner, sensitivity, tags, connectionText, secret) in rows.decode(
            (String, String, String, Int32, [String], String, Data?).self)
        {
            guard let kind = Resource.Kind(rawValue: kind) else { return nil }
            let connection = (try? JSONValue.parse(Data(connectionText.utf8)))?.objectValue ?? [:]
            var resource = Resource(
                id: id, kind: kind, env: env, owner: owner, sensitivity: Int(sensitivity), tags: tags,
                audience: connection["audience"]?.stringValue, roles: [:])
            if kind == .postgres {
                guard let secret else {
                    throw StoreError(
                        code: "no_recorded_password",
                        message: "resource `\(id)` left the catalog before its admin password was recorded: put it back in resources.json until its leases are revoked")
                }
                let password = try await keys.open(
                    try SealedSecret(bytes: Array(secret)), context: Self.context(id), logger: logger)
                resource.postgres = try Self.target(connection, password: String(decoding: password, as: UTF8.self), id: id)
            }
            return resource
        }
        return nil
    }

    /// Where the admin password of resource `id` is sealed.
    public static func context(_ id: String) -> EncryptionContext {
        SealedColumn.resourceAdminSecret.context(row: id)
    }

    private static func target(_ connection: [String: JSONValue], password: String, id: String) throws -> PostgresTarget {
        guard let host = connection["host"]?.stringValue, let port = connection["port"]?.intValue,
              let database = connection["database"]?.stringValue, let admin = connection["admin_user"]?.stringValue
        else {
            throw StoreError(code: "invalid_resource_record", message: "the recorded settings of `\(id)` are incomplete")
        }
        var target = PostgresTarget(
            host: host, port: Int(port), database: database, adminUser: admin, adminPassword: password)
        // A record names its mode (those before `verify-full` existed say `prefer`); an unknown one reads as
        // the strictest.
        if let mode = connection["sslmode"]?.stringValue { target.sslMode = PostgresSSLMode(rawValue: mode) ?? .verifyFull }
        if let root = connection["sslrootcert"]?.stringValue { target.sslRootCert = root }
        if let limit = connection["connection_limit"]?.intValue { target.connectionLimit = Int(limit) }
        if let iterations = connection["scram_iterations"]?.intValue { target.scramIterations = Int(iterations) }
        return target
    }
}
