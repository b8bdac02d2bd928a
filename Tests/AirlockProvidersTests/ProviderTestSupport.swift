import AirlockCore
import AirlockPostgres
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import Logging
import PostgresNIO

/// A target database on the test cluster, like the dev demo: `customers`, `orders`, `order_items`, no CONNECT
/// or schema USAGE for PUBLIC.
struct TargetFixture {
    let admin: DatabaseURL
    let database: String
    let resource: Resource

    static let readonly = RoleTemplate(
        name: "readonly", grants: [.init(privileges: ["SELECT"], objectKind: .table, schema: "public")])
    static let readwrite = RoleTemplate(
        name: "readwrite",
        grants: [
            .init(privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"], objectKind: .table, schema: "public"),
            .init(privileges: ["USAGE", "SELECT"], objectKind: .sequence, schema: "public"),
        ])
    static let ordersOnly = RoleTemplate(
        name: "orders_only", grants: [.init(privileges: ["SELECT"], objectKind: .table, schema: "public", pattern: "order*")])

    /// A fresh target database with demo tables and a resource for it with the three templates.
    static func make(adminPassword: String? = nil) async throws -> TargetFixture {
        let admin = try await TestDatabase.serverURL()
        let suffix = Self.randomSuffix()
        let database = "target_\(suffix)"
        try await TestDatabase.execute("CREATE DATABASE \(database)", on: admin)
        try await TestDatabase.execute("REVOKE CONNECT, TEMPORARY ON DATABASE \(database) FROM PUBLIC", on: admin)
        try await ClusterHardening.shared.closePostgresDatabase(admin: admin)
        let url = admin.with(database: database)
        for statement in schema {
            try await TestDatabase.execute(statement, on: url)
        }
        let target = PostgresTarget(
            host: admin.host, port: admin.port, database: database, adminUser: admin.username,
            adminPassword: adminPassword ?? admin.password ?? "", sslMode: .disable, connectionLimit: 5)
        let resource = Resource(
            id: "orders-\(suffix)", kind: .postgres, env: "test", postgres: target,
            roles: [readonly.name: readonly, readwrite.name: readwrite, ordersOnly.name: ordersOnly])
        return TargetFixture(admin: admin, database: database, resource: resource)
    }

    /// Another database on the same cluster (closed to PUBLIC), to show logins cannot reach it.
    func makeOtherDatabase() async throws -> String {
        let name = "other_\(Self.randomSuffix())"
        try await TestDatabase.execute("CREATE DATABASE \(name)", on: admin)
        try await TestDatabase.execute("REVOKE CONNECT, TEMPORARY ON DATABASE \(name) FROM PUBLIC", on: admin)
        return name
    }

    /// Runs one statement as superuser in the target database.
    func execute(_ sql: String) async throws {
        try await TestDatabase.execute(sql, on: admin.with(database: database))
    }

    /// Rows of a query run as superuser in the target database.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let connection = try await PostgresConnection.connect(
            configuration: admin.with(database: database).connectionConfiguration(), id: 9, logger: TestDatabase.logger)
        do {
            let rows = try await connection.query(query, logger: TestDatabase.logger).collect()
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    private static let schema = [
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), total_cents bigint NOT NULL)",
        "CREATE TABLE order_items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders (id), sku text NOT NULL)",
        "INSERT INTO customers (name) VALUES ('Ada Lovelace'), ('Grace Hopper')",
        "INSERT INTO orders (customer_id, total_cents) VALUES (1, 1200), (2, 4500)",
        "INSERT INTO order_items (order_id, sku) VALUES (1, 'book'), (2, 'compiler')",
    ]
}

/// Closes the cluster's own `postgres` database to PUBLIC, as on a hardened target cluster: once per process, since
/// concurrent REVOKEs on one database race on its catalog row ("tuple concurrently updated").
actor ClusterHardening {
    static let shared = ClusterHardening()
    private var done: Task<Void, any Error>?

    func closePostgresDatabase(admin: DatabaseURL) async throws {
        if done == nil {
            done = Task { try await TestDatabase.execute("REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC", on: admin) }
        }
        try await done?.value
    }
}

/// Runs `body` with a provider whose pools run in a task group for the duration.
func withProvider<T: Sendable>(_ body: @Sendable (PostgresRoleProvider) async throws -> T) async throws -> T {
    let provider = PostgresRoleProvider(logger: TestDatabase.logger, operationTimeout: .seconds(60))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await provider.run() }
        defer { group.cancelAll() }
        return try await body(provider)
    }
}

/// Logs in with an issued credential (password authentication, SCRAM-SHA-256), to `database` or its own.
func login(_ credential: PostgresCredential, database: String? = nil) async throws -> PostgresConnection {
    var configuration = PostgresConnection.Configuration(
        host: credential.host, port: credential.port, username: credential.username, password: credential.password,
        database: database ?? credential.database, tls: .disable)
    // Generous: 32 logins may connect at once while the other suites load the two cores; a slow connect is not
    // what these tests check.
    configuration.options.connectTimeout = .seconds(30)
    return try await PostgresConnection.connect(configuration: configuration, id: 7, logger: TestDatabase.logger)
}

/// The SQLSTATE `body` fails with, or nil if it succeeds.
func failureState(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch {
        return databaseErrorState(error) ?? "not a server error: \(String(reflecting: error))"
    }
}

/// Whether logging in with `credential` (to `database` or its own) fails, and with which SQLSTATE.
func loginFailure(_ credential: PostgresCredential, database: String? = nil) async -> String? {
    await failureState {
        let connection = try await login(credential, database: database)
        try await connection.close()
    }
}
