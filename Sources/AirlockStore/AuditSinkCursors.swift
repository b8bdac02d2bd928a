import AirlockCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The durable cursors of the SIEM sinks (`audit_sinks`, migration 0013): for each sink, by name, the sequence of the
/// last audit event it wrote and synced, and which broker writes it now.
///
/// A broker writes a sink only while it holds the sink's claim: a lease of ``claimDuration`` that ``claim(_:logger:)``
/// takes (`FOR UPDATE SKIP LOCKED`: a broker never waits for another's claim) when the sink is free, lapsed or already
/// its own, and that every claim and ``advance(_:to:logger:)`` renews. So one replica writes the sink while it lives
/// (passes come every few seconds, well inside the lease), another takes over within a lease of its death, and one
/// that stops releases the claim (``release(_:logger:)``) for the next pass of another. No transaction stays open
/// while the sink writes: a stuck disk holds neither a row lock nor a connection.
///
/// The cursor moves only forward and only for the claimant, after the events are durable: at-least-once. A broker
/// that dies between writing and advancing, or is so slow that its lease lapses and another takes over, leaves the
/// same events to be written again, identical (same `id` and `sequence`).
public final class AuditSinkCursors: Sendable {
    let database: Database
    let clock: any WallClock
    /// The broker holding claims (``BrokerRegistry``).
    public let claimant: UUID
    /// How long a claim lasts without renewal.
    public let claimDuration: TimeInterval
    /// The sinks whose row is known to exist.
    private let registered = Mutex<Set<String>>([])

    public init(
        database: Database, clock: any WallClock = SystemWallClock(), claimant: UUID = UUID(),
        claimDuration: TimeInterval = 30
    ) {
        self.database = database
        self.clock = clock
        self.claimant = claimant
        self.claimDuration = claimDuration
    }

    /// Whether `name` may name a sink: lower-case letters, digits and `_ . : -`, starting with a letter or digit, at
    /// most 63 characters (the table's check).
    public static func isValidName(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.unicodeScalars.first,
              ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_.:-".unicodeScalars.contains($0)
        }
    }

    /// Claims (or renews) sink `name` for this broker and returns its cursor, or nil when another broker holds it.
    /// A sink never seen before starts at 0, the beginning of the chain.
    public func claim(_ name: String, logger: Logger) async throws -> Int64? {
        if !registered.withLock({ $0.contains(name) }) {
            try await database.client.query(
                "INSERT INTO audit_sinks (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING", logger: logger)
            _ = registered.withLock { $0.insert(name) }
        }
        let now = clock.now()
        let until = now.addingTimeInterval(claimDuration)
        let rows = try await database.client.query("""
            WITH free AS (
                SELECT name FROM audit_sinks
                WHERE name = \(name)
                  AND (claimed_by IS NULL OR claimed_by = \(claimant) OR claimed_until < \(now))
                FOR UPDATE SKIP LOCKED
            )
            UPDATE audit_sinks AS s SET claimed_by = \(claimant), claimed_until = \(until)
            FROM free WHERE s.name = free.name
            RETURNING s.last_sequence
            """, logger: logger)
        for try await sequence in rows.decode(Int64.self) { return sequence }
        return nil
    }

    /// Moves sink `name`'s cursor to `sequence` (the last event now durable in the sink) and renews the claim.
    /// Returns false, changing nothing, when this broker no longer holds the claim (another took over: the events
    /// may be written twice, never lost) or the cursor is already there.
    public func advance(_ name: String, to sequence: Int64, logger: Logger) async throws -> Bool {
        let now = clock.now()
        let rows = try await database.client.query("""
            UPDATE audit_sinks
            SET last_sequence = \(sequence), claimed_until = \(now.addingTimeInterval(claimDuration)), updated_at = \(now)
            WHERE name = \(name) AND claimed_by = \(claimant) AND last_sequence < \(sequence)
            RETURNING name
            """, logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Gives sink `name` up, if this broker holds it, so another broker's next pass takes it at once.
    public func release(_ name: String, logger: Logger) async throws {
        try await database.client.query("""
            UPDATE audit_sinks SET claimed_by = NULL, claimed_until = NULL
            WHERE name = \(name) AND claimed_by = \(claimant)
            """, logger: logger)
    }

    /// Sink `name`'s cursor, or nil for a sink never claimed.
    public func position(_ name: String, logger: Logger) async throws -> Int64? {
        let rows = try await database.client.query(
            "SELECT last_sequence FROM audit_sinks WHERE name = \(name)", logger: logger)
        for try await sequence in rows.decode(Int64.self) { return sequence }
        return nil
    }
}
