import AirlockLocalCluster
import AirlockPostgres
import AirlockProviders
import AirlockStore
import Foundation
import Logging
import PostgresNIO

/// Real PostgreSQL for tests: one throwaway cluster per test process (or the server named by
/// `AIRLOCK_TEST_DATABASE_URL`), and for each test its own fresh database cloned from a migrated template.
public enum TestDatabase {
    /// The repository's `Migrations/` directory.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Migrations")

    /// A quiet logger for tests (warnings and worse).
    public static var logger: Logger {
        var logger = Logger(label: "airlock.test")
        logger.logLevel = .warning
        return logger
    }

    /// Runs `body` with a pool on a new database holding the migrated schema.
    public static func withDatabase<T: Sendable>(
        migrated: Bool = true, _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        try await withExisting(try await fresh(migrated: migrated), body)
    }

    /// Runs `body` with a pool on the existing database `url`.
    public static func withExisting<T: Sendable>(
        _ url: DatabaseURL, _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        let database = Database(url: url, maximumConnections: 10, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// The URL of a new database (migrated, or empty when `migrated` is false).
    public static func fresh(migrated: Bool = true) async throws -> DatabaseURL {
        do {
            return try await Server.shared.createDatabase(migrated: migrated)
        } catch {
            // PSQLError's description says nothing; the log gets the server's message and SQLSTATE (no secrets).
            logger.error("cannot create a test database", metadata: ["error": "\(describeDatabaseError(error))"])
            throw error
        }
    }

    /// The superuser URL of the test server's `postgres` database.
    public static func serverURL() async throws -> DatabaseURL {
        try await Server.shared.adminURL()
    }

    /// Runs one SQL statement as superuser on the database `url` names.
    /// A statement that PostgreSQL refuses with 55006 (object in use: `CREATE DATABASE` while a session is still
    /// leaving `template1`, on a loaded machine running the whole suite) is tried again for up to 120 s.
    public static func execute(_ sql: String, on url: DatabaseURL) async throws {
        let admin = try await Server.shared.adminURL().with(database: url.database)
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            do {
                try await run([sql], on: admin)
                return
            } catch where databaseErrorState(error) == "55006" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
    /// Runs `statements` in order on `url` over one connection. Making the connection (never a statement) is tried
    /// again for up to 60 s: with the whole suite on two cores, a connect can miss its 5 s timeout.
    public static func run(_ statements: [String], on url: DatabaseURL) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        let connection: PostgresConnection
        while true {
            do {
                connection = try await PostgresConnection.connect(
                    configuration: url.connectionConfiguration(), id: 1, logger: logger)
                break
            } catch let error as PSQLError where error.code == .connectionError && ContinuousClock.now < deadline {
                logger.warning("test database: connecting again", metadata: ["error": "\(describeDatabaseError(error))"])
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        do {
            for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// A SCRAM-SHA-256 verifier for `password` with 16 iterations, for `CREATE ROLE … PASSWORD '<verifier>'` in a test:
    /// logins with PostgreSQL's default 4096 iterations run PBKDF2 on this process's event loops and, with hundreds
    /// of tests on two cores, starve them until other tests' connects time out (see `Server.cheapenLogins`).
    public static func cheapVerifier(password: String) throws -> String {
        try SCRAMVerifier(password: password, iterations: 16).text
    }
}

/// The one test server of this process.
actor Server {
    static let shared = Server()

    private var admin: Task<DatabaseURL, any Error>?
    private var template: Task<String, any Error>?
    private var counter = 0
    private let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    /// The superuser URL, the cluster started once: concurrent first callers all wait on the same task.
    func adminURL() async throws -> DatabaseURL {
        if let admin { return try await admin.value }
        let task = Task {
            if let given = ProcessInfo.processInfo.environment["AIRLOCK_TEST_DATABASE_URL"], !given.isEmpty {
                return try DatabaseURL(given)
            }
            let cluster = try LocalPostgresCluster.start()
            LocalPostgresCluster.stopAtExit(cluster)
            let url = try DatabaseURL(cluster.url(database: "postgres"))
            try await Self.cheapenLogins(url)
            return url
        }
        admin = task
        return try await task.value
    }

    /// Hundreds of tests open pools at once, and every connection runs the client side of SCRAM (PBKDF2 with the
    /// verifier's iteration count, 4096 from initdb) on an event loop of this process: in a debug build on two cores
    /// that starves the loops until connects time out. The superuser's password is 32 random characters, so the
    /// iteration count protects nothing (as for issued logins, Docs/threat-model.md): the test cluster's superuser
    /// gets a verifier with 16 iterations. The password itself stays the same.
    private static func cheapenLogins(_ url: DatabaseURL) async throws {
        guard let password = url.password else { return }
        let verifier = try SCRAMVerifier(password: password, iterations: 16).text
        try await run("ALTER ROLE \(try SQLIdentifier.quoted(url.username)) PASSWORD '\(verifier)'", on: url)
    }

    func createDatabase(migrated: Bool) async throws -> DatabaseURL {
        let admin = try await adminURL()
        let template = migrated ? try await migratedTemplate(admin: admin) : ""
        counter += 1
        let name = "airlock_t_\(runID)_\(counter)"
        let source = migrated ? " TEMPLATE \(template) STRATEGY FILE_COPY" : ""
        // A connection of the pool that migrated the template may still be closing; PostgreSQL then refuses
        // to copy it (55006) for a moment (long on a cold, loaded machine running the whole suite: wait up to 120 s).
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            do {
                try await Self.run("CREATE DATABASE \(name)\(source)", on: admin)
                break
            } catch where databaseErrorState(error) == "55006" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return admin.with(database: name)
    }

    /// The migrated template, created once: concurrent first callers all wait on the same task.
    private func migratedTemplate(admin: DatabaseURL) async throws -> String {
        if let template { return try await template.value }
        let name = "airlock_tpl_\(runID)"
        let task = Task {
            try await Self.run("CREATE DATABASE \(name)", on: admin)
            let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
            _ = try await Database.withDatabase(admin.with(database: name), logger: TestDatabase.logger) { database in
                try await MigrationRunner(migrations: migrations).migrate(database, logger: TestDatabase.logger)
            }
            return name
        }
        template = task
        return try await task.value
    }

    private static func run(_ sql: String, on url: DatabaseURL) async throws {
        try await TestDatabase.run([sql], on: url)
    }
}
