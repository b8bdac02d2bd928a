import Logging
import PostgresNIO
import ServiceLifecycle

/// The connection pool as Airlock uses it: `PostgresClient`'s `query`, `execute`, `withConnection` and
/// `withTransaction`, except that no call outlives its connection.
///
/// Each call leases a connection and runs on it through ``whileOpen(_:grace:_:)``: a statement that
/// postgres-nio loses because its connection closed under it (a database restart) fails with
/// ``StoreError/connectionLost`` a moment after the close instead of waiting forever, so background loops keep
/// going, requests answer, and shutdown finishes. Rows are read in full on the leased connection before the call
/// returns (Airlock's queries return bounded pages).
public struct DatabaseClient: Service {
    /// The underlying pool (run by ``run()``).
    public let pool: PostgresClient

    /// Wraps `pool`.
    public init(_ pool: PostgresClient) {
        self.pool = pool
    }

    /// Runs the pool until cancelled or gracefully shut down (as `PostgresClient.run()`).
    public func run() async {
        await pool.run()
    }

    /// Runs `body` on a leased connection.
    @discardableResult
    public func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await leased(onEventLoop: false, body)
    }

    /// Runs `body` on a leased connection through ``whileOpen(_:grace:onEventLoop:_:)``.
    private func leased<Result: Sendable>(
        onEventLoop: Bool, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await pool.withConnection { connection in
            try await whileOpen(connection, onEventLoop: onEventLoop, body)
        }
    }

    /// Runs `body` in a transaction on a leased connection (postgres-nio's `withTransaction`: `BEGIN`, then
    /// `COMMIT`, or `ROLLBACK` and a `PostgresTransactionError` when `body` throws).
    @discardableResult
    public func withTransaction<Result: Sendable>(
        logger: Logger, file: String = #file, line: Int = #line,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            try await connection.withTransaction(logger: logger, file: file, line: line) { connection in
                try await body(connection)
            }
        }
    }

    /// Runs one statement and returns all its rows.
    @discardableResult
    public func query(
        _ query: PostgresQuery, logger: Logger? = nil, file: String = #fileID, line: Int = #line
    ) async throws -> QueryRows {
        let logger = logger ?? Self.quiet
        return try await withConnection { connection in
            QueryRows(try await connection.query(query, logger: logger, file: file, line: line).collect())
        }
    }

    /// Runs a prepared statement (prepared on each connection at first use) and returns all its rows.
    ///
    /// With `onEventLoop`, the statement is written and its rows collected on the connection's event loop
    /// (``EventLoopExecutor``): no thread hop between Swift's executor and the loop, about 0.1 ms less per call at the
    /// median in `airlock bench risk` (interleaved with the same calls off the loop, 2026-12-07). For small,
    /// latency-critical reads only (the risk baseline, one row): decoding runs on the loop, and holds up every other
    /// channel of that loop meanwhile.
    public func execute<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger? = nil, onEventLoop: Bool = false, file: String = #fileID,
        line: Int = #line
    ) async throws -> BufferedRows<Statement.Row> where Statement.Row: Sendable {
        let logger = logger ?? Self.quiet
        return try await leased(onEventLoop: onEventLoop) { connection in
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger, file: file, line: line) {
                rows.append(row)
            }
            return BufferedRows(rows)
        }
    }

    private static let quiet = Logger(label: "airlock.database", factory: { _ in SwiftLogNoOpLogHandler() })
}
