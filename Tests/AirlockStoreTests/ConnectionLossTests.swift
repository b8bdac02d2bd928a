import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 11, fault suite (the broker's database restarted): postgres-nio drops a statement written to a connection
/// whose channel has closed and been torn down, and its caller used to wait forever (listeners, the audit chainer
/// and shutdown hung after a restart). Here the server ends the session deterministically and the next statement is
/// sent only once the connection is fully closed, as happens by chance in a restart: the call must fail instead, and
/// the pool must serve again.
@Suite("Database calls on a connection the server ended", .timeLimit(.minutes(2)))
struct ConnectionLossTests {
    let logger = Support.logger

    /// The server ends this session (as `pg_ctl stop -m fast` does); returns once the connection is closed and its
    /// channel torn down (`closeFuture` completes after the teardown).
    static func endedByServer(_ connection: PostgresConnection, logger: Logger) async {
        _ = try? await connection.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: logger)
        try? await connection.closeFuture.get()
    }

    struct BodyFailed: Error {}

    @Test("a transaction whose connection the server ended fails (its ROLLBACK is lost) and the pool serves again")
    func transactionOnEndedConnection() async throws {
        try await TestDatabase.withDatabase { database in
            let logger = self.logger
            let outcome = try await withTimeout(.seconds(20)) { () async -> String in
                do {
                    try await database.client.withTransaction(logger: logger) { connection in
                        await Self.endedByServer(connection, logger: logger)
                        throw BodyFailed()  // postgres-nio now sends ROLLBACK on the closed connection
                    }
                    return "no error"
                } catch {
                    return (error as? StoreError)?.code ?? "\(error)"
                }
            }
            #expect(outcome == StoreError.connectionLost.code)
            try await expectServes(database)
        }
    }

    @Test("a statement sent on a leased connection that has just closed fails instead of waiting forever")
    func statementOnEndedConnection() async throws {
        try await TestDatabase.withDatabase { database in
            let logger = self.logger
            let outcome = try await withTimeout(.seconds(20)) { () async -> String in
                do {
                    try await database.client.withConnection { connection in
                        await Self.endedByServer(connection, logger: logger)
                        // As a pool lease handed out between the channel's close and the pool hearing of it.
                        try await connection.query("SELECT 1", logger: logger)
                    }
                    return "no error"
                } catch {
                    return (error as? StoreError)?.code ?? "\(error)"
                }
            }
            #expect(outcome == StoreError.connectionLost.code)
            try await expectServes(database)
        }
    }

    @Test("a statement on a live connection runs to its end, however long past the grace it takes")
    func longStatementOnLiveConnection() async throws {
        try await TestDatabase.withDatabase { database in
            let rows = try await database.client.query("SELECT 7 FROM pg_sleep(3)", logger: logger).collect()
            #expect(try rows.map { try $0.decode(Int.self) } == [7])
        }
    }

    private func expectServes(_ database: Database) async throws {
        let rows = try await withTimeout(.seconds(10)) {
            try await database.client.query("SELECT 41 + 1", logger: logger).collect()
        }
        #expect(try rows.first?.decode(Int.self) == 42)
    }
}
