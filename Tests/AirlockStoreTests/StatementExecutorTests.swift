@testable import AirlockStore
import AirlockTestSupport
import PostgresNIO
import Testing

/// A statement asked to run on its connection's event loop does (no hop between Swift's executor and the loop per
/// call); callers' own code, in `withConnection` and `withTransaction`, never does.
@Suite(.timeLimit(.minutes(2)))
struct StatementExecutorTests {
    let logger = TestDatabase.logger

    struct Seven: PostgresPreparedStatement {
        static let name = "airlock_test_seven"
        static let sql = "SELECT 7::int4"
        typealias Row = Int32
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
    }

    @Test("a statement's body runs on its connection's event loop; a caller's body does not")
    func placement() async throws {
        try await TestDatabase.withDatabase { database in
            try await database.client.pool.withConnection { connection in
                #expect(try await whileOpen(connection, onEventLoop: true) { $0.eventLoop.inEventLoop })
                #expect(try await whileOpen(connection) { $0.eventLoop.inEventLoop } == false)
                // Work awaited on the loop comes back to it, and the statement's answer is read there.
                let answer = try await whileOpen(connection, onEventLoop: true) { connection -> (Int32, Bool) in
                    var value: Int32 = 0
                    for try await number in try await connection.query("SELECT 41 + 1", logger: logger)
                        .decode(Int32.self) { value = number }
                    return (value, connection.eventLoop.inEventLoop)
                }
                #expect(answer == (42, true))
            }
            #expect(try await database.client.withConnection { $0.eventLoop.inEventLoop } == false)
            #expect(try await database.client.withTransaction(logger: logger) { $0.eventLoop.inEventLoop } == false)
            // A prepared statement answers the same either way.
            for onEventLoop in [true, false] {
                let rows = try await database.client.execute(Seven(), logger: logger, onEventLoop: onEventLoop)
                #expect(rows.rows == [7])
            }
        }
    }
}
