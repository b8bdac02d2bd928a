import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 11 item 5: `airlock migrate` run from a directory someone else controls does not run that directory's
/// `./Migrations` as the database owner: it uses its own (here, the checkout this development build came from).
struct MigrationLocationCommandTests {
    @Test(.timeLimit(.minutes(2)))
    func migrateFromAHostileWorkingDirectoryIgnoresItsMigrations() async throws {
        let hostile = try TemporaryDirectory()
        let migrations = hostile.url.appendingPathComponent("Migrations")
        try FileManager.default.createDirectory(at: migrations, withIntermediateDirectories: false)
        try Data("CREATE TABLE pwned (x int);".utf8).write(to: migrations.appendingPathComponent("0001_initial_schema.sql"))
        try Data("CREATE TABLE pwned_too (x int);".utf8).write(to: migrations.appendingPathComponent("9999_later.sql"))

        let url = try await TestDatabase.fresh(migrated: false)
        let result = try await AirlockBinary.run(
            ["migrate", "--database-url", url.testURLString], workingDirectory: hostile.url, limit: .seconds(90))
        #expect(result.status == 0, "stderr: \(result.errors)")
        let expected = try Migration.load(from: TestDatabase.migrationsDirectory)
        #expect(result.output.components(separatedBy: "applied ").count - 1 == expected.count, "\(result.output)")
        #expect(result.errors.contains("migrations from \(TestDatabase.migrationsDirectory.standardizedFileURL.path)"),
                "the directory in use is named: \(result.errors)")

        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 62, logger: TestDatabase.logger)
        var tables: [String] = []
        do {
            let rows = try await connection.query(
                "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1",
                logger: TestDatabase.logger)
            for try await name in rows.decode(String.self) { tables.append(name) }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        #expect(!tables.contains("pwned") && !tables.contains("pwned_too"), "the working directory's SQL ran: \(tables)")
        #expect(tables.contains("audit_events"))
    }
}
