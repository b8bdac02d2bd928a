import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("MigrationRunner on PostgreSQL", .timeLimit(.minutes(2)))
struct MigrationRunnerTests {
    let logger = Support.logger

    /// The recorded rows of `schema_migrations`, by version.
    static func recorded(in database: Database) async throws -> [(version: Int, name: String, checksum: String)] {
        let rows = try await database.client.query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version", logger: Support.logger)
        var result: [(Int, String, String)] = []
        for try await row in rows.decode((Int, String, String).self) { result.append(row) }
        return result
    }

    @Test("migrate applies every file once and records version, name and checksum")
    func appliesAll() async throws {
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let runner = MigrationRunner(migrations: migrations)
        try await TestDatabase.withDatabase(migrated: false) { database in
            let before = try await runner.status(of: database, logger: logger)
            #expect(before.map(\.version) == migrations.map(\.version))
            #expect(before.allSatisfy { $0.state == .pending })
            #expect(try await runner.pending(in: database, logger: logger) == migrations)

            let applied = try await runner.migrate(database, logger: logger)
            #expect(applied == migrations)
            let rows = try await Self.recorded(in: database)
            #expect(rows.map(\.version) == migrations.map(\.version))
            #expect(rows.map(\.name) == migrations.map(\.name))
            #expect(rows.map(\.checksum) == migrations.map(\.checksum))
            #expect(try await Support.tableExists("audit_events", in: database))

            let after = try await runner.status(of: database, logger: logger)
            #expect(after.allSatisfy { if case .applied = $0.state { true } else { false } })
            #expect(try await runner.pending(in: database, logger: logger).isEmpty)
            #expect(try await runner.migrate(database, logger: logger).isEmpty)
            #expect(try await Self.recorded(in: database).count == migrations.count)
        }
    }

    @Test("a version recorded in the database but unknown to this build is reported, not re-applied")
    func unknownToThisBuild() async throws {
        let directory = try TemporaryDirectory(files: [
            "0001_a.sql": "CREATE TABLE a (x int);", "0002_b.sql": "CREATE TABLE b (x int);",
        ])
        let all = try Migration.load(from: directory.url)
        try await TestDatabase.withDatabase(migrated: false) { database in
            try await MigrationRunner(migrations: all).migrate(database, logger: logger)
            let older = MigrationRunner(migrations: [all[0]])
            let statuses = try await older.status(of: database, logger: logger)
            #expect(statuses.map(\.version) == [1, 2])
            #expect(statuses[1].state == .unknownToThisBuild)
            #expect(statuses[1].name == "b")
            #expect(try await older.migrate(database, logger: logger).isEmpty)
        }
    }

    @Test("two runners starting together apply each migration exactly once")
    func concurrentRunners() async throws {
        let directory = try TemporaryDirectory(files: [
            "0001_counter.sql": "CREATE TABLE applied_log (version int NOT NULL);\nINSERT INTO applied_log VALUES (1);",
            "0002_slow.sql": "SELECT pg_sleep(0.3);\nCREATE TABLE slow (x int);\nINSERT INTO applied_log VALUES (2);",
            "0003_last.sql": "CREATE TABLE last (x int);\nINSERT INTO applied_log VALUES (3);",
        ])
        let runner = MigrationRunner(migrations: try Migration.load(from: directory.url))
        let url = try await TestDatabase.fresh(migrated: false)
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await Support.withPool(url) { database in
                        try await runner.migrate(database, logger: Support.logger).map(\.version)
                    }
                }
            }
            var results: [[Int]] = []
            for try await applied in group { results.append(applied) }
            return results
        }
        #expect(results.count == 2)
        #expect(results.flatMap { $0 }.sorted() == [1, 2, 3])
        let (versions, logged, distinct) = try await Support.withPool(url) { database in
            (try await Self.recorded(in: database).map(\.version),
             try await Support.count("SELECT count(*) FROM applied_log", in: database),
             try await Support.count("SELECT count(DISTINCT version) FROM applied_log", in: database))
        }
        #expect(versions == [1, 2, 3])
        #expect(logged == 3 && distinct == 3)
    }

    @Test("an applied file that changed stops the run, naming the file, before anything else is applied")
    func checksumMismatch() async throws {
        let directory = try TemporaryDirectory(files: ["0001_first.sql": "CREATE TABLE first (x int);"])
        try await TestDatabase.withDatabase(migrated: false) { database in
            let original = try Migration.load(from: directory.url)
            try await MigrationRunner(migrations: original).migrate(database, logger: logger)

            try directory.write("0001_first.sql", "CREATE TABLE first (x bigint);")
            try directory.write("0002_second.sql", "CREATE TABLE second (x int);")
            let changed = MigrationRunner(migrations: try Migration.load(from: directory.url))

            let error = await #expect(throws: StoreError.self) { try await changed.migrate(database, logger: logger) }
            #expect(error?.code == "migration_checksum_mismatch")
            #expect(error?.message.contains("`0001_first.sql`") == true)
            #expect(try await Support.tableExists("second", in: database) == false)
            #expect(try await Self.recorded(in: database).map(\.version) == [1])

            let pendingError = await #expect(throws: StoreError.self) {
                try await changed.pending(in: database, logger: logger)
            }
            #expect(pendingError?.code == "migration_checksum_mismatch")
            let statuses = try await changed.status(of: database, logger: logger)
            #expect(statuses.map(\.state) == [
                .changed(recorded: original[0].checksum, file: changed.migrations[0].checksum), .pending,
            ])

            // The advisory lock was released: another pool with the original file migrates at once.
            let restored = MigrationRunner(migrations: original + [changed.migrations[1]])
            let appliedLater = try await Support.withPool(database.url) { other in
                try await restored.migrate(other, logger: logger).map(\.version)
            }
            #expect(appliedLater == [2])
        }
    }

    @Test("a failing migration is rolled back, not recorded, and stops the run")
    func failingMigration() async throws {
        let directory = try TemporaryDirectory(files: [
            "0001_ok.sql": "CREATE TABLE ok (x int);",
            "0002_bad.sql": "CREATE TABLE made_by_bad (x int);\nSELECT * FROM no_such_table;",
            "0003_after.sql": "CREATE TABLE after_bad (x int);",
        ])
        try await TestDatabase.withDatabase(migrated: false) { database in
            let runner = MigrationRunner(migrations: try Migration.load(from: directory.url))
            let error = await #expect(throws: StoreError.self) { try await runner.migrate(database, logger: logger) }
            #expect(error?.code == "migration_failed")
            #expect(error?.message.contains("`0002_bad.sql`") == true)
            #expect(error?.message.contains("no_such_table") == true)

            #expect(try await Support.tableExists("ok", in: database))
            #expect(try await Support.tableExists("made_by_bad", in: database) == false)
            #expect(try await Support.tableExists("after_bad", in: database) == false)
            #expect(try await Self.recorded(in: database).map(\.version) == [1])

            // Fixed, it applies from where it stopped, on another pool (so the lock must have been released).
            try directory.write("0002_bad.sql", "CREATE TABLE made_by_bad (x int);")
            let fixed = MigrationRunner(migrations: try Migration.load(from: directory.url))
            let appliedLater = try await Support.withPool(database.url) { other in
                try await fixed.migrate(other, logger: logger).map(\.version)
            }
            #expect(appliedLater == [2, 3])
            #expect(try await Support.tableExists("made_by_bad", in: database))
        }
    }

    @Test("a migration with a syntax error in its text fails before touching the database")
    func unsplittable() async throws {
        let directory = try TemporaryDirectory(files: ["0001_broken.sql": "CREATE TABLE broken (x text DEFAULT 'open);"])
        try await TestDatabase.withDatabase(migrated: false) { database in
            let runner = MigrationRunner(migrations: try Migration.load(from: directory.url))
            let error = await #expect(throws: StoreError.self) { try await runner.migrate(database, logger: logger) }
            #expect(error?.code == "sql_syntax")
            #expect(try await Support.tableExists("broken", in: database) == false)
            #expect(try await Self.recorded(in: database).isEmpty)
        }
    }
}
