import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Security Event Tokens received from Shared Signals transmitters, in `ssf_received_sets` (migration 0020).
///
/// ``record(_:as:replayableUntil:logger:)`` does in one transaction everything a receipt means: the SET's `jti` is
/// claimed (a second receipt of it is refused, even from two replicas at once), the risk signal it becomes is
/// inserted, and both are audited (`airlock.ssf.received`, and `airlock.signal.received` for the signal). So a SET
/// is either recorded whole or not at all, and a transmitter that retries after a failure is never told "replay"
/// for a SET whose signal was lost.
public struct SecurityEventStore: Sendable {
    let database: Database
    let auditLog: AuditLog
    let clock: any WallClock

    /// How many expired receipts one receipt prunes at most.
    static let pruneBatch = 100

    public init(database: Database, auditLog: AuditLog, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.auditLog = auditLog
        self.clock = clock
    }

    /// What a receipt became.
    public enum Receipt: Sendable, Hashable {
        /// Recorded; the signal it became, if it became one.
        case recorded(ExternalSignal?)
        /// This transmitter sent a SET with this `jti` before: nothing was recorded.
        case replayed
    }

    /// What a SET is recorded as.
    public enum Outcome: Sendable, Hashable {
        /// A risk signal on the event's principal, with this name, severity, lifetime and detail.
        case signal(name: String, severity: Severity, ttlSeconds: Int64, detail: String?)
        /// A verification event, answered.
        case verification
        /// Recorded and audited, nothing more, for the reason given (words for people).
        case ignored(String)
    }

    /// Records `event` received now as `outcome`; its `jti` stays claimed until `replayableUntil` (after which the
    /// SET is too old to be accepted anyway). `.replayed` when it was claimed already.
    public func record(
        _ event: ReceivedSecurityEvent, as outcome: Outcome, replayableUntil: Date, logger: Logger
    ) async throws -> Receipt {
        let now = clock.now()
        let signal: ExternalSignal?
        let ttl: Int64
        if case .signal(let name, let severity, let ttlSeconds, let detail) = outcome, let principal = event.principal {
            signal = ExternalSignal(
                id: UUID(), principal: principal, name: name, severity: severity, detail: detail,
                source: Self.source(event.transmitter), receivedAt: now,
                expiresAt: now.addingTimeInterval(TimeInterval(ttlSeconds)))
            ttl = ttlSeconds
        } else {
            (signal, ttl) = (nil, 0)
        }
        let audit = Self.auditEvent(event, outcome: outcome, signal: signal)
        let claimed = try await database.client.withTransaction(logger: logger) { connection -> Bool in
            // The `jti` first: a replay (even one racing this receipt on another replica) stops here, having written
            // nothing. The signal's row follows; its key is checked at commit.
            let rows = try await connection.query(
                """
                INSERT INTO ssf_received_sets (transmitter, jti, event_type, principal_id, signal_id, outcome,
                    issued_at, received_at, replayable_until)
                VALUES (\(event.transmitter), \(event.jti), \(event.eventType), \(event.principal), \(signal?.id),
                    \(Self.outcomeName(outcome, signal: signal)), \(event.issuedAt), \(now), \(replayableUntil))
                ON CONFLICT (transmitter, jti) DO NOTHING
                RETURNING 1
                """, logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else { return false }
            if let signal {
                try await SignalStore.insert(signal, ttlSeconds: ttl, on: connection, auditLog: auditLog, logger: logger)
            }
            _ = try await auditLog.append(audit, on: connection, logger: logger)
            try await connection.query(
                """
                DELETE FROM ssf_received_sets WHERE (transmitter, jti) IN (
                    SELECT transmitter, jti FROM ssf_received_sets WHERE replayable_until < \(now)
                    ORDER BY replayable_until LIMIT \(Self.pruneBatch) FOR UPDATE SKIP LOCKED)
                """, logger: logger)
            return true
        }
        return claimed ? .recorded(signal) : .replayed
    }

    /// The `source` of the signals a transmitter's SETs become: `ssf:` and its issuer.
    public static func source(_ transmitter: String) -> String { "ssf:" + transmitter }

    private static func outcomeName(_ outcome: Outcome, signal: ExternalSignal?) -> String {
        switch outcome {
        case .signal: signal == nil ? "ignored" : "signal"
        case .verification: "verification"
        case .ignored: "ignored"
        }
    }

    /// `airlock.ssf.received`: the SET's facts and what it became. `info`, except an event about a person that
    /// could not be acted on (its subject maps to no principal): `medium` and the security channel, since an
    /// identity provider reported something about someone Airlock could not name.
    static func auditEvent(_ event: ReceivedSecurityEvent, outcome: Outcome, signal: ExternalSignal?) -> NewAuditEvent {
        var data: [String: JSONValue] = [
            "transmitter": .string(event.transmitter), "jti": .string(event.jti), "event": .string(event.eventType),
            "issued_at": .string(AuditTime.format(event.issuedAt)),
            "subject": event.subject.map { .string($0.description) } ?? .null,
            "subject_format": event.subject.map { .string($0.format) } ?? .null,
            "principal": event.principal.map(JSONValue.string) ?? .null,
            "txn": event.transaction.map(JSONValue.string) ?? .null,
            "reason": event.reason.map(JSONValue.string) ?? .null,
            "outcome": .string(outcomeName(outcome, signal: signal)),
            "signal_id": signal.map { .string(SignalStore.text($0.id)) } ?? .null,
        ]
        var severity = Severity.info
        var channels: [String] = []
        switch outcome {
        case .signal where signal == nil, .ignored:
            let why: String
            if case .ignored(let reason) = outcome { why = reason } else { why = event.unmappedReason ?? "no principal" }
            data["ignored_because"] = .string(why)
            if event.principal == nil, event.knownEvent?.defaultSignal != nil {
                (severity, channels) = (.medium, [AlertRouting.security])
            }
        case .verification:
            data["state"] = event.verificationState.map(JSONValue.string) ?? .null
        case .signal:
            break
        }
        data["title"] = .string(
            "\(event.knownEvent?.shortName ?? event.eventType) from \(event.transmitter) (SET \(event.jti))")
        return NewAuditEvent(
            type: "airlock.ssf.received", subject: event.jti, severity: severity, channels: channels, data: data)
    }
}
