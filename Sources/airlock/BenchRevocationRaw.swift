import AirlockCore
import AirlockStore
import Foundation
import Logging
import PostgresNIO

/// The raw baseline of `airlock bench revocation`: logins made like Airlock's (LOGIN, VALID UNTIL, IN ROLE the
/// same group role), then dropped with one plain `DROP ROLE` each by the superuser, on `connections` pooled
/// connections, autocommit. Only the drops are timed.
enum BenchRevocationRaw {
    struct Result: Sendable {
        let connections: Int
        let count: Int
        let seconds: Double
        let retries: Int
    }

    static func run(
        _ environment: BenchIssuanceEnvironment, groupRole: String, count: Int, connections: Int
    ) async throws -> Result {
        let url = try environment.adminURL(BenchIssuanceAirlock.targetDatabase)
        let database = Database(url: url, maximumConnections: connections, logger: environment.logger)
        let validUntil = ISO8601DateFormatter().string(from: Date().addingTimeInterval(900))
        let names = (0..<count).map { "airlock_rawdrop_\(connections)_\($0)" }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            _ = try await each(names, connections: connections, database: database, logger: environment.logger) { name in
                "CREATE ROLE \"\(name)\" LOGIN PASSWORD '\(SecureRandom.base62(40))' VALID UNTIL '\(validUntil)' "
                    + "CONNECTION LIMIT 5 IN ROLE \"\(groupRole)\""
            }
            let start = ContinuousClock.now
            let retries = try await each(names, connections: connections, database: database, logger: environment.logger) {
                "DROP ROLE \"\($0)\""
            }
            return Result(
                connections: connections, count: count, seconds: start.duration(to: .now).milliseconds / 1_000,
                retries: retries)
        }
    }

    /// Runs one statement per name, `connections` workers each on its own pooled connection; returns how many
    /// statements were retried after `tuple concurrently updated` and similar.
    private static func each(
        _ names: [String], connections: Int, database: Database, logger: Logger,
        _ statement: @escaping @Sendable (String) -> String
    ) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<connections {
                let mine = Array(stride(from: worker, to: names.count, by: connections).map { names[$0] })
                group.addTask {
                    try await database.client.withConnection { connection in
                        var retries = 0
                        for name in mine {
                            var attempt = 1
                            while true {
                                do {
                                    try await connection.query(PostgresQuery(unsafeSQL: statement(name)), logger: logger)
                                    break
                                } catch let error as PSQLError {
                                    let state = error.serverInfo?[.sqlState] ?? ""
                                    guard BenchIssuanceRaw.retriedStates.contains(state), attempt < 500 else {
                                        let message = error.serverInfo?[.message] ?? "connection error"
                                        throw BenchIssuanceError("raw role statement failed: \(message) (\(state))")
                                    }
                                    attempt += 1
                                    retries += 1
                                    try await Task.sleep(for: .microseconds(Int.random(in: 0...(1_000 * min(attempt, 10)))))
                                }
                            }
                        }
                        return retries
                    }
                }
            }
            var retries = 0
            for try await part in group { retries += part }
            return retries
        }
    }
}
