import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Database monitor: readiness, unreachable database, migrations at start-up", .timeLimit(.minutes(2)))
struct DatabaseMonitorTests {
    typealias S = ServerSupport

    /// Runs the application until it stops by itself (or `limit` passes) and returns what it threw.
    static func runUntilItStops(_ config: ServerConfiguration, limit: Duration = .seconds(60)) async throws -> (any Error)? {
        let app = try buildApplication(config: config)
        do {
            try await withTimeout(limit) { try await app.runService(gracefulShutdownSignals: []) }
            return nil
        } catch {
            return error
        }
    }

    /// The migrations not applied to the database `url` names.
    static func pending(in url: DatabaseURL) async throws -> [String] {
        let runner = MigrationRunner(migrations: try Migration.load(from: TestDatabase.migrationsDirectory))
        return try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
            try await runner.pending(in: database, logger: TestDatabase.logger).map(\.fileName)
        }
    }

    @Test("with the database unreachable, /healthz is 200 and /readyz 503 not_ready; the reason is only logged")
    func unreachableDatabase() async throws {
        let url = try S.unreachableURL()
        var config = try S.configuration(url: url)
        let logs = CapturedLogs()
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)

            // The log names where the check tried; /readyz says only that the broker is not ready.
            let response = try await S.waitForReadyz(client, expecting: "503 once the failure is logged") { response in
                response.status == .serviceUnavailable && logs.text.contains("127.0.0.1:\(url.port)")
            }
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.contentType] == "application/json")
            let error = try S.errorBody(response)
            #expect(error.code == "not_ready")
            #expect(error.message == "not ready")
            #expect(!logs.text.contains(S.unreachablePassword))
            #expect(error.request_id == response.headers[S.requestID])

            // Still serving after retries.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
        }
    }

    @Test("/readyz is 503 until the first database check, never 200 before it")
    func notReadyBeforeFirstCheck() async throws {
        let app = try buildApplication(config: S.configuration(url: try S.unreachableURL()))
        try await app.test(.live) { client in
            let first = try await client.execute(uri: "/readyz", method: .get)
            #expect(first.status == .serviceUnavailable)
            #expect(try S.errorBody(first).code == "not_ready")
        }
    }

    @Test("pending migrations without migrateOnStart stop the server with pending_migrations and change nothing")
    func pendingMigrationsRefused() async throws {
        let url = try await TestDatabase.fresh(migrated: false)
        let error = try await Self.runUntilItStops(S.configuration(url: url, migrateOnStart: false))
        let storeError = try #require(error as? StoreError, "\(String(describing: error))")
        #expect(storeError.code == "pending_migrations")
        #expect(storeError.message.contains("0001_initial_schema.sql"))
        #expect(storeError.message.contains("--migrate"))
        // Every migration of the repository is still pending (read from the directory, so a new one needs no edit).
        let files = try Migration.load(from: TestDatabase.migrationsDirectory).map(\.fileName)
        #expect(files.first == "0001_initial_schema.sql" && files.count >= 4)
        #expect(try await Self.pending(in: url) == files)
    }

    @Test("with migrateOnStart the server migrates an empty database and becomes ready")
    func migrateOnStart() async throws {
        let url = try await TestDatabase.fresh(migrated: false)
        let app = try buildApplication(config: S.configuration(url: url, migrateOnStart: true))
        try await app.test(.live) { client in
            let response = try await S.waitUntilReady(client)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
        }
        #expect(try await Self.pending(in: url).isEmpty)
    }

    @Test("an applied migration whose file changed stops the server even with migrateOnStart", arguments: [false, true])
    func changedMigrationRefused(migrateOnStart: Bool) async throws {
        let url = try await TestDatabase.fresh()
        var config = try S.configuration(url: url, migrateOnStart: migrateOnStart)
        let original = try #require(config.migrations.first)
        config.migrations[0] = try Migration(fileName: original.fileName, contents: Data((original.sql + "\n-- edited\n").utf8))
        let error = try await Self.runUntilItStops(config)
        let storeError = try #require(error as? StoreError, "\(String(describing: error))")
        #expect(storeError.code == "migration_checksum_mismatch")
    }
}
