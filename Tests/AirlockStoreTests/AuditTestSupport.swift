import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO

extension Support {
    static let auditLog = AuditLog(source: "/airlock/test")

    /// Appends one event with subject `subject` in its own transaction and returns its id.
    @discardableResult
    static func appendCommitted(_ subject: String, in database: Database, data: [String: JSONValue] = [:]) async throws -> UUID {
        try await database.client.withTransaction(logger: logger) { connection in
            try await auditLog.append(
                NewAuditEvent(type: "airlock.test.event", subject: subject, data: data), on: connection, logger: logger)
        }
    }

    /// Appends `count` events (subjects `e1`…), each in its own transaction, and chains them.
    static func chain(of count: Int, in database: Database) async throws {
        for index in 1...count {
            try await appendCommitted("e\(index)", in: database, data: ["note": .string("event-\(index)")])
        }
        let chained = try await AuditChainer(database: database, logger: logger).chainPending()
        guard chained == count else { throw TestFailure("chained \(chained) of \(count)") }
    }

    /// Drains the chainer until a pass chains nothing; returns how many it chained.
    static func drain(_ database: Database) async throws -> Int {
        let chainer = AuditChainer(database: database, logger: logger)
        var total = 0
        while true {
            let chained = try await chainer.chainPending()
            if chained == 0 { return total }
            total += chained
        }
    }

    /// Checks the links of `rows` (sequences 1…N, prevhash, hash) independently of ``ChainVerifier``.
    static func linksAreValid(_ rows: [AuditRow]) -> Bool {
        var previous = AuditChain.genesisHash
        for (offset, row) in rows.enumerated() {
            guard row.sequence == Int64(offset + 1), row.prevhash == previous,
                  row.hash == AuditChain.hash(prevhash: previous, event: row.event) else { return false }
            previous = row.hash ?? ""
        }
        return true
    }
}
