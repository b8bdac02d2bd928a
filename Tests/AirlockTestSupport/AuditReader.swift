import AirlockStore
import Foundation
import PostgresNIO

/// One row of `audit_events`, as the tests read it.
public struct AuditRow: Sendable, Equatable {
    public let id: UUID
    public let type: String
    public let subject: String
    public let severity: String
    /// The event's canonical JSON, as chained.
    public let event: String
    /// The chain position; nil until the chainer has reached the row.
    public let sequence: Int64?
    public let prevhash: String?
    public let hash: String?
}

/// The one place tests read `audit_events`.
public enum AuditReader {
    /// The order of ``events(in:type:order:)``.
    public enum Order: Sendable {
        /// As written (`ingest_id`).
        case ingested
        /// Chained rows by sequence, then unchained ones as written.
        case chained
    }

    /// Every audit event in `database` (only those of `type` when given).
    public static func events(
        in database: Database, type wanted: String? = nil, order: Order = .ingested
    ) async throws -> [AuditRow] {
        let query: PostgresQuery = switch order {
        case .ingested:
            "SELECT id, type, subject, severity, event, sequence, prevhash, hash FROM audit_events ORDER BY ingest_id"
        case .chained:
            """
            SELECT id, type, subject, severity, event, sequence, prevhash, hash FROM audit_events
            ORDER BY sequence NULLS LAST, ingest_id
            """
        }
        let rows = try await database.client.query(query, logger: TestDatabase.logger)
        var result: [AuditRow] = []
        for try await (id, type, subject, severity, event, sequence, prevhash, hash)
            in rows.decode((UUID, String, String, String, String, Int64?, String?, String?).self) {
            guard wanted == nil || type == wanted else { continue }
            result.append(AuditRow(
                id: id, type: type, subject: subject, severity: severity, event: event, sequence: sequence,
                prevhash: prevhash, hash: hash))
        }
        return result
    }

    /// Every audit event in the database `url` names (only those of `type` when given).
    public static func events(at url: DatabaseURL, type: String? = nil, order: Order = .ingested) async throws -> [AuditRow] {
        try await TestDatabase.withExisting(url) { database in try await events(in: database, type: type, order: order) }
    }
}
