import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Small helpers shared by the store tests.
enum Support {
    static var logger: Logger { TestDatabase.logger }

    /// Runs `body` with a second, independent pool on the database `url` names.
    static func withPool<T: Sendable>(
        _ url: DatabaseURL, _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        let database = Database(url: url, maximumConnections: 10, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// The single `bigint` value of `query` (e.g. a `count(*)`).
    static func count(_ query: PostgresQuery, in database: Database) async throws -> Int64 {
        let rows = try await database.client.query(query, logger: logger)
        var result: Int64?
        for try await value in rows.decode(Int64.self) { result = value }
        guard let result else { throw TestFailure("no row from \(query.sql)") }
        return result
    }

    /// Whether the table `name` exists in the public schema.
    static func tableExists(_ name: String, in database: Database) async throws -> Bool {
        let rows = try await database.client.query(
            "SELECT to_regclass(\("public." + name)) IS NOT NULL", logger: logger)
        var exists = false
        for try await value in rows.decode(Bool.self) { exists = value }
        return exists
    }

    /// Runs one statement (test-owned SQL only) on the pool.
    static func execute(_ sql: String, in database: Database) async throws {
        try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }
}

/// A failure of the test's own plumbing.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A flag one task raises and others poll.
final class Flag: Sendable {
    private let value = Mutex(false)
    func raise() { value.withLock { $0 = true } }
    var isRaised: Bool { value.withLock { $0 } }
}
