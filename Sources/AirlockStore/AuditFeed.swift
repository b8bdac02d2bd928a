import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The chained audit events in sequence order, a page at a time (`GET /v1/audit`, `airlock audit tail`).
public struct AuditFeed: Sendable {
    let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Up to `limit` chained events after sequence `after`, optionally only of `type` (exact, or a prefix ending
    /// in `.`, such as `airlock.credential.`). Each is the stored CloudEvent with its `sequence`, `prevhash` and
    /// `hash` extension attributes.
    public func page(after: Int64, type: String?, limit: Int) async throws -> [JSONValue] {
        let limit = max(1, min(limit, 1000))
        let prefix = type.map { $0.hasSuffix(".") ? $0 + "%" : $0 }
        let rows = try await database.client.query("""
            SELECT sequence, prevhash, hash, event FROM audit_events
            WHERE sequence > \(after) AND (\(prefix)::text IS NULL OR type LIKE \(prefix))
            ORDER BY sequence LIMIT \(limit)
            """, logger: logger)
        return try await Self.chained(rows)
    }

    /// Up to `limit` chained events before sequence `before` (all when nil), newest first: only of `type` (as
    /// ``page(after:type:limit:)``) and only those whose stored event contains `text` (any case), when given.
    public func search(text: String?, type: String?, before: Int64?, limit: Int) async throws -> [JSONValue] {
        let limit = max(1, min(limit, 500))
        let prefix = type.map { $0.hasSuffix(".") ? $0 + "%" : $0 }
        let needle = text.map { $0.lowercased() }
        let rows = try await database.client.query("""
            SELECT sequence, prevhash, hash, event FROM audit_events
            WHERE sequence IS NOT NULL AND (\(before)::int8 IS NULL OR sequence < \(before))
              AND (\(prefix)::text IS NULL OR type LIKE \(prefix))
              AND (\(needle)::text IS NULL OR strpos(lower(event), \(needle)) > 0)
            ORDER BY sequence DESC LIMIT \(limit)
            """, logger: logger)
        return try await Self.chained(rows)
    }

    /// Rows of `sequence, prevhash, hash, event` as events with their chain attributes.
    static func chained(_ rows: QueryRows) async throws -> [JSONValue] {
        var events: [JSONValue] = []
        for try await (sequence, prevhash, hash, event) in rows.decode((Int64, String, String, String).self) {
            guard case .object(var fields) = try JSONValue.parse(Data(event.utf8)) else { continue }
            fields["sequence"] = .int(sequence)
            fields["prevhash"] = .string(prevhash)
            fields["hash"] = .string(hash)
            events.append(.object(fields))
        }
        return events
    }
}
