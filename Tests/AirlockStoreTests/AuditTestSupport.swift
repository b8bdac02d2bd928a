import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO

/// One row of `audit_events` as the chain sees it.
struct ChainRow: Sendable {
    let sequence: Int64?
    let id: UUID
    let subject: String
    let prevhash: String?
    let hash: String?
    let event: String
}

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

    /// Every row of `audit_events`, chained ones by sequence, then unchained ones by ingest order.
    static func rows(in database: Database) async throws -> [ChainRow] {
        let rows = try await database.client.query(
            """
            SELECT sequence, id, subject, prevhash, hash, event FROM audit_events
            ORDER BY sequence NULLS LAST, ingest_id
            """, logger: logger)
        var result: [ChainRow] = []
        for try await (sequence, id, subject, prevhash, hash, event)
            in rows.decode((Int64?, UUID, String, String?, String?, String).self) {
            result.append(ChainRow(sequence: sequence, id: id, subject: subject, prevhash: prevhash, hash: hash, event: event))
        }
        return result
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
    static func linksAreValid(_ rows: [ChainRow]) -> Bool {
        var previous = AuditChain.genesisHash
        for (offset, row) in rows.enumerated() {
            guard row.sequence == Int64(offset + 1), row.prevhash == previous,
                  row.hash == AuditChain.hash(prevhash: previous, event: row.event) else { return false }
            previous = row.hash ?? ""
        }
        return true
    }
}
