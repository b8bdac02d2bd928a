import AirlockCore
import AirlockStore
import Foundation
import Logging
import PostgresNIO

/// The raw baseline of `airlock bench issuance`: the same logins made directly on the same target database by
/// the superuser through a pool, with no broker in between. The password goes in plain, so PostgreSQL derives the
/// SCRAM verifier itself (Airlock derives it client-side): the same PBKDF2 work, on the other side.
enum BenchIssuanceRaw {
    enum Variant: String, Sendable, CaseIterable {
        /// `CREATE ROLE … LOGIN … IN ROLE <the group role Airlock uses>`: the same single statement.
        case inRole = "in_role"
        /// `CREATE ROLE … LOGIN`, then CONNECT, USAGE and SELECT granted to the new role itself.
        case grants
    }

    /// The statements a server may fail on under concurrency (`tuple concurrently updated`, serialization,
    /// deadlock) are retried after a short random pause, and counted; anything else fails the run.
    static let retriedStates: Set<String> = ["XX000", "40001", "40P01"]

    static func run(
        _ environment: BenchIssuanceEnvironment, variant: Variant, groupRole: String, requests: Int, concurrency: Int,
        verify: Int
    ) async throws -> BenchIssuanceResult {
        let url = try environment.adminURL(BenchIssuanceAirlock.targetDatabase)
        let database = Database(url: url, maximumConnections: concurrency, logger: environment.logger)
        let validUntil = ISO8601DateFormatter().string(from: Date().addingTimeInterval(900))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            try await warm(database, concurrency: concurrency, logger: environment.logger)
            let start = ContinuousClock.now
            let parts = try await withThrowingTaskGroup(of: BenchIssuanceResult.self) { workers in
                for worker in 0..<concurrency {
                    let indices = Array(stride(from: worker, to: requests, by: concurrency))
                    workers.addTask {
                        var result = BenchIssuanceResult()
                        for index in indices {
                            let login = BenchIssuanceLogin(
                                username: "airlock_raw_\(variant.rawValue)_\(concurrency)_\(index)",
                                password: SecureRandom.base62(40), host: environment.cluster.host,
                                port: environment.cluster.port, database: BenchIssuanceAirlock.targetDatabase)
                            let started = ContinuousClock.now
                            result.retries += try await create(
                                login, variant: variant, groupRole: groupRole, validUntil: validUntil,
                                database: database, logger: environment.logger)
                            result.latencies.append(started.duration(to: .now).milliseconds)
                            if index < verify {
                                try await BenchIssuanceLogin.check(login, logger: environment.logger)
                                result.verified += 1
                            }
                        }
                        return result
                    }
                }
                var parts: [BenchIssuanceResult] = []
                for try await part in workers { parts.append(part) }
                return parts
            }
            return BenchIssuanceResult(merging: parts, elapsed: start.duration(to: .now))
        }
    }

    /// Opens the pool's connections before the clock starts (Airlock's pools are warm too by then).
    private static func warm(_ database: Database, concurrency: Int, logger: Logger) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    try await database.client.withConnection { connection in
                        try await connection.query("SELECT 1", logger: logger)
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Makes one login on one pooled connection, statement by statement (autocommit, like Airlock's mint);
    /// returns how many statements had to be retried.
    private static func create(
        _ login: BenchIssuanceLogin, variant: Variant, groupRole: String, validUntil: String, database: Database,
        logger: Logger
    ) async throws -> Int {
        let role = "\"\(login.username)\""
        let password = "PASSWORD '\(login.password)' VALID UNTIL '\(validUntil)' CONNECTION LIMIT 5"
        let statements: [String] = switch variant {
        case .inRole:
            ["CREATE ROLE \(role) LOGIN \(password) IN ROLE \"\(groupRole)\""]
        case .grants:
            [
                "CREATE ROLE \(role) LOGIN \(password)",
                "GRANT CONNECT ON DATABASE \(login.database) TO \(role)",
                "GRANT USAGE ON SCHEMA public TO \(role)",
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role)",
            ]
        }
        return try await database.client.withConnection { connection in
            var retries = 0
            for statement in statements {
                var attempt = 1
                while true {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        break
                    } catch let error as PSQLError {
                        let state = error.serverInfo?[.sqlState] ?? ""
                        guard retriedStates.contains(state), attempt < 500 else {
                            let message = error.serverInfo?[.message] ?? "connection error"
                            throw BenchIssuanceError("raw \(variant.rawValue) failed: \(message) (\(state))")
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
