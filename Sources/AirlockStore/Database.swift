import AirlockPostgres
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Airlock's handle on its PostgreSQL database: a connection pool plus the URL it came from.
///
/// The pool is a `Service`; run it in the application's `ServiceGroup`, or use ``withDatabase(_:logger:_:)``
/// in a command-line tool.
public struct Database: Sendable {
    /// The connection pool, through which no call outlives its connection (see ``DatabaseClient``).
    public let client: DatabaseClient
    /// Where it connects (safe to log: the password is hidden).
    public let url: DatabaseURL
    /// The schema holding Airlock's tables: every connection of the pool has it, alone, as its `search_path`.
    public let schema: SchemaName

    /// Creates a pool for `url` whose connections use `schema` alone as their `search_path`. Nothing connects until
    /// the pool runs.
    public init(url: DatabaseURL, schema: SchemaName = .public, maximumConnections: Int = 20, logger: Logger) {
        var configuration = url.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        // A start-up parameter, so no connection ever runs a statement with the server's default path
        // (`"$user", public`), which would put tables in a schema the role happens to own.
        configuration.options.additionalStartupParameters.append(("search_path", schema.quoted))
        // The pool's background messages are connection chatter (and a spurious warning when a query races the
        // pool's start); errors still come through, and every query failure reaches its caller.
        var backgroundLogger = logger
        backgroundLogger.logLevel = max(logger.logLevel, .error)
        self.client = DatabaseClient(PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger))
        self.url = url
        self.schema = schema
    }

    /// Opens one connection to check that the server answers, and reports why not in one line.
    ///
    /// A pool retries forever against a server that is gone; this gives a command-line tool a clear,
    /// bounded failure instead.
    public static func probe(_ url: DatabaseURL, logger: Logger) async throws(StoreError) {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: url.connectionConfiguration(), id: 0, logger: logger)
        } catch {
            throw unreachable(url, error)
        }
        do {
            // Bounded by the connection's life: a server going down right after the connect loses the statement.
            try await whileOpen(connection) { try await $0.query("SELECT 1", logger: logger) }
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw unreachable(url, error)
        }
    }

    private static func unreachable(_ url: DatabaseURL, _ error: any Error) -> StoreError {
        StoreError(
            code: "database_unreachable",
            message: "cannot reach the database at \(url.host):\(url.port)/\(url.database): \(describeDatabaseError(error))")
    }

    /// Runs `body` with a live pool for `url`, after checking the server answers; the pool stops afterwards.
    ///
    /// For command-line tools (`airlock migrate`, `airlock audit verify`); the server runs its pool in its
    /// `ServiceGroup` instead.
    public static func withDatabase<Result: Sendable>(
        _ url: DatabaseURL, schema: SchemaName = .public, logger: Logger,
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        try await probe(url, logger: logger)
        let database = Database(url: url, schema: schema, maximumConnections: 4, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }
}

extension Database {
    /// Runs trusted SQL statements, in order, on one short-lived connection to `url` (administration tasks such
    /// as `CREATE DATABASE` that cannot run in a pool's transaction). Never pass text built from user input.
    public static func execute(unsafeSQL statements: [String], on url: DatabaseURL, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 1, logger: logger)
        do {
            for statement in statements {
                try await whileOpen(connection) {
                    try await $0.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
