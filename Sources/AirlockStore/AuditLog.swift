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
        let id = UUID()
        let time = clock.now()
        let canonical = event.cloudEvent(id: id, source: source, time: time).canonicalString()
        try await connection.query(
            """
            INSERT INTO audit_events (id, type, subject, severity, occurred_at, event)
            VALUES (\(id), \(event.type), \(event.subject), \(event.severity.rawValue), \(time), \(canonical))
            """, logger: logger)
        return id
    }
}
