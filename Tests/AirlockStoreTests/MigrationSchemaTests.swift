import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 11 item 6: with PostgreSQL's default `search_path` (`"$user", public`), a broker role that owns a schema
/// named after itself got its tables there while the runner looked for `public.schema_migrations`: every run
/// applied `0001` again (and failed, its tables already existing). Now one schema, `database.schema`, is used
/// everywhere.
@Suite("Migrations and a broker role that owns a schema of its own", .timeLimit(.minutes(3)))
struct MigrationSchemaTests {
    let logger = Support.logger

    /// A fresh empty database and a login role that owns a schema named after itself in it, allowed to create in
    /// `public` too (PostgreSQL 15 no longer lets everyone).
    static func roleWithOwnSchema() async throws -> DatabaseURL {
        let admin = try await TestDatabase.fresh(migrated: false)
        let role = "broker_\(UInt32.random(in: 0...UInt32.max))"
        let password = "pw\(UInt64.random(in: 0...UInt64.max))"
        let verifier = try TestDatabase.cheapVerifier(password: password)
        try await TestDatabase.execute("CREATE ROLE \(role) LOGIN PASSWORD '\(verifier)'", on: admin)
        try await TestDatabase.execute("CREATE SCHEMA \(role) AUTHORIZATION \(role)", on: admin)
        try await TestDatabase.execute("GRANT CREATE ON SCHEMA public TO \(role)", on: admin)
        try await TestDatabase.execute("GRANT CONNECT ON DATABASE \(admin.database) TO \(role)", on: admin)
        var url = admin
        url.username = role
        url.password = password
        return url
    }

    /// The schemas holding a table called `name` (one short superuser connection, not a pool).
    static func schemas(holding name: String, in url: DatabaseURL) async throws -> [String] {
        let admin = try await TestDatabase.serverURL().with(database: url.database)
        let connection = try await PostgresConnection.connect(
            configuration: admin.connectionConfiguration(), id: 61, logger: Support.logger)
        do {
            let rows = try await connection.query(
                "SELECT schemaname::text FROM pg_catalog.pg_tables WHERE tablename = \(name) ORDER BY 1",
                logger: Support.logger)
            var result: [String] = []
            for try await schema in rows.decode(String.self) { result.append(schema) }
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    @Test("by default the tables go to public and the second run applies nothing, whatever schema the role owns")
    func defaultSchema() async throws {
        let url = try await Self.roleWithOwnSchema()
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let runner = MigrationRunner(migrations: migrations)
        let first = try await Database.withDatabase(url, logger: logger) { database in
            try await runner.migrate(database, logger: logger)
        }
        #expect(first == migrations)
        let second = try await Database.withDatabase(url, logger: logger) { database in
            try await runner.migrate(database, logger: logger)
        }
        #expect(second.isEmpty)
        #expect(try await Self.schemas(holding: "schema_migrations", in: url) == ["public"])
        #expect(try await Self.schemas(holding: "audit_events", in: url) == ["public"])
        #expect(try await Self.schemas(holding: "leases", in: url) == ["public"])
    }

    @Test("with database.schema naming the role's schema, everything lives there and the second run applies nothing")
    func configuredSchema() async throws {
        let url = try await Self.roleWithOwnSchema()
        let schema = try SchemaName(url.username)
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let runner = MigrationRunner(migrations: migrations)
        for expected in [migrations, []] {
            let applied = try await Database.withDatabase(url, schema: schema, logger: logger) { database in
                try await runner.migrate(database, logger: logger)
            }
            #expect(applied == expected)
        }
        #expect(try await Self.schemas(holding: "schema_migrations", in: url) == [url.username])
        #expect(try await Self.schemas(holding: "audit_events", in: url) == [url.username])
        // The pool's connections find the tables unqualified, and see every migration applied.
        try await Database.withDatabase(url, schema: schema, logger: logger) { database in
            let rows = try await database.client.query(
                "SELECT count(*)::int8 FROM schema_migrations", logger: logger)
            for try await count in rows.decode(Int64.self) { #expect(count == Int64(migrations.count)) }
            let statuses = try await runner.status(of: database, logger: logger)
            #expect(statuses.allSatisfy { if case .applied = $0.state { true } else { false } })
        }
    }

    @Test("a schema that does not exist yet is created by the first migration run")
    func missingSchemaCreated() async throws {
        let admin = try await TestDatabase.fresh(migrated: false)
        let schema = try SchemaName("airlock_own")
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let applied = try await Database.withDatabase(admin, schema: schema, logger: logger) { database in
            try await MigrationRunner(migrations: migrations).migrate(database, logger: logger)
        }
        #expect(applied == migrations)
        #expect(try await Self.schemas(holding: "schema_migrations", in: admin) == ["airlock_own"])
    }

    @Test("schema names are validated as identifiers", arguments: [
        "", "Public", "1abc", "pg_catalog", "a;b", "a b", "\"x\"", "é", String(repeating: "a", count: 64),
    ])
    func invalidNames(name: String) {
        #expect(throws: StoreError.self) { try SchemaName(name) }
    }

    @Test func validNames() throws {
        #expect(try SchemaName("airlock").quoted == "\"airlock\"")
        #expect(try SchemaName("_a1").qualified("t") == "\"_a1\".t")
        #expect(SchemaName.public.name == "public")
    }
}
