import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Appends audit events inside the caller's transaction.
///
/// Appending takes no lock and touches no shared row: the event is inserted unchained (`sequence` NULL) and
/// commits or rolls back with the state change it describes. The ``AuditChainer`` links it into the chain
/// once it has committed.
public struct AuditLog: Sendable {
    /// The CloudEvents `source` of every event this broker writes.
    public let source: String
    /// The clock that stamps `time`.
    public let clock: any WallClock

    /// Creates an audit log that stamps events with `source` and the time from `clock`.
    public init(source: String, clock: any WallClock = SystemWallClock()) {
        self.source = source
        self.clock = clock
    }

    /// Inserts `event` on `connection`, which should be inside the transaction of the change it records.
    /// Returns the event's id.
    @discardableResult
    public func append(_ event: NewAuditEvent, on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        let row = stamp(event)
        try await connection.query(
            "INSERT INTO audit_events (id, type, subject, severity, occurred_at, event) VALUES \(auditRows: [row])",
            logger: logger)
        return row.id
    }

    /// `event` with its id and time fixed and its stored form rendered, ready to be inserted by a statement that
    /// also makes the change it records (``PostgresQuery/StringInterpolation/appendInterpolation(auditRows:)``).
    func stamp(_ event: NewAuditEvent) -> AuditRow {
        let id = UUID()
        let time = clock.now()
        return AuditRow(
            id: id, type: event.type, subject: event.subject, severity: event.severity.rawValue, time: time,
            canonical: event.cloudEvent(id: id, source: source, time: time).canonicalString())
    }
}

/// One `audit_events` row as inserted (unchained).
struct AuditRow: Sendable {
    let id: UUID
    let type: String
    let subject: String
    let severity: String
    let time: Date
    /// The event's RFC 8785 form: what the chain hashes.
    let canonical: String
}

extension PostgresQuery.StringInterpolation {
    /// The rows `(id, type, subject, severity, occurred_at, event), …` as bound values, for
    /// `INSERT INTO audit_events (id, type, subject, severity, occurred_at, event) VALUES …` or a `VALUES` list
    /// inside a larger statement (so a state change and its events are written in one round trip).
    mutating func appendInterpolation(auditRows rows: [AuditRow]) {
        for (index, row) in rows.enumerated() {
            appendLiteral(index == 0 ? "(" : ", (")
            appendInterpolation(row.id)
            appendLiteral(", ")
            appendInterpolation(row.type)
            appendLiteral(", ")
            appendInterpolation(row.subject)
            appendLiteral(", ")
            appendInterpolation(row.severity)
            appendLiteral(", ")
            appendInterpolation(row.time)
            appendLiteral(", ")
            appendInterpolation(row.canonical)
            appendLiteral(")")
        }
    }
}
