import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// External risk signals in `risk_signals` (migration 0016): recorded, listed, withdrawn, each change audited in the
/// same transaction (`airlock.signal.received`, `airlock.signal.withdrawn`, routed by
/// ``AlertRouting/externalSignal(severity:)``). Rows are never deleted. ``active(for:at:)`` is what the risk
/// engine reads at decision time.
public struct SignalStore: Sendable {
    let database: Database
    let auditLog: AuditLog
    let clock: any WallClock
    /// The logger of ``active(for:at:)`` (the decision path passes none of its own).
    let logger: Logger

    /// The largest page ``list(principal:includeInactive:limit:after:logger:)`` returns.
    public static let maximumPageSize = 500

    public init(
        database: Database, auditLog: AuditLog, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "airlock.signals")
    ) {
        self.database = database
        self.auditLog = auditLog
        self.clock = clock
        self.logger = logger
    }

    /// Records a signal about `principal`, received now (the store's clock) and active for `ttlSeconds`, sent by
    /// `source`; audited as `airlock.signal.received`. The caller has checked the values
    /// (the broker's `Signals.validate`); the table's checks refuse what slips through. Returns it as stored.
    public func add(
        principal: String, name: String, severity: Severity, detail: String?, ttlSeconds: Int64, source: String,
        logger: Logger
    ) async throws -> ExternalSignal {
        let now = clock.now()
        let signal = ExternalSignal(
            id: UUID(), principal: principal, name: name, severity: severity, detail: detail, source: source,
            receivedAt: now, expiresAt: now.addingTimeInterval(TimeInterval(ttlSeconds)))
        try await database.client.withTransaction(logger: logger) { connection in
            try await Self.insert(signal, ttlSeconds: ttlSeconds, on: connection, auditLog: auditLog, logger: logger)
        }
        return signal
    }

    /// Inserts `signal` and appends its `airlock.signal.received` on `connection`, in the caller's transaction.
    static func insert(
        _ signal: ExternalSignal, ttlSeconds: Int64, on connection: PostgresConnection, auditLog: AuditLog,
        logger: Logger
    ) async throws {
        let routing = AlertRouting.externalSignal(severity: signal.severity)
        var data = Self.facts(signal)
        data["source"] = .string(signal.source)
        data["expires_at"] = .string(AuditTime.format(signal.expiresAt))
        data["ttl_seconds"] = .int(ttlSeconds)
        data["detail"] = signal.detail.map(JSONValue.string) ?? .null
        // The title of the OCSF Detection Finding a SIEM sink makes of it.
        data["title"] = .string(
            "\(signal.name) (\(signal.severity.rawValue)) reported for \(signal.principal) by \(signal.source)")
        let event = NewAuditEvent(
            type: "airlock.signal.received", subject: Self.text(signal.id), severity: routing.severity,
            channels: routing.channels, data: data)
        try await connection.query(
            """
            INSERT INTO risk_signals (id, principal_id, signal, severity, detail, source, received_at, expires_at)
            VALUES (\(signal.id), \(signal.principal), \(signal.name), \(signal.severity.rawValue), \(signal.detail),
                \(signal.source), \(signal.receivedAt), \(signal.expiresAt))
            """, logger: logger)
        _ = try await auditLog.append(event, on: connection, logger: logger)
    }

    /// The signals about `principal` that are active at `at`: not withdrawn and not yet expired, oldest first.
    /// Reads by the partial index `risk_signals_active (principal_id, expires_at) WHERE withdrawn_at IS NULL`.
    public func active(for principal: String, at: Date) async throws -> [ExternalSignal] {
        try await active(for: principal, at: at, logger: logger)
    }

    /// ``active(for:at:)``, logging to `logger`.
    public func active(for principal: String, at: Date, logger: Logger) async throws -> [ExternalSignal] {
        try await fetch(
            """
            WHERE principal_id = \(principal) AND withdrawn_at IS NULL AND expires_at > \(at) AND received_at <= \(at)
            ORDER BY received_at, id
            """, logger: logger)
    }

    /// One page of signals, newest first: only those active now (the store's clock) unless `includeInactive`,
    /// only about `principal` when given, after the signal `after` (the previous page's cursor). A cursor that names
    /// no signal yields an empty page. The next cursor is the last signal's id when more follow.
    public func list(
        principal: String?, includeInactive: Bool, limit: Int = 100, after: UUID? = nil, logger: Logger
    ) async throws -> (items: [ExternalSignal], nextCursor: UUID?) {
        let limit = max(1, min(limit, Self.maximumPageSize))
        let now = clock.now()
        var signals = try await fetch(
            """
            WHERE (\(principal)::text IS NULL OR principal_id = \(principal))
              AND (\(includeInactive) OR (withdrawn_at IS NULL AND expires_at > \(now)))
              AND (\(after)::uuid IS NULL OR (received_at, id) < (
                  SELECT a.received_at, a.id FROM risk_signals a WHERE a.id = \(after)))
            ORDER BY received_at DESC, id DESC LIMIT \(limit + 1)
            """, logger: logger)
        let more = signals.count > limit
        signals = Array(signals.prefix(limit))
        return (signals, more ? signals.last?.id : nil)
    }

    /// The signal `id`, whatever its status.
    public func get(_ id: UUID, logger: Logger) async throws -> ExternalSignal? {
        try await fetch("WHERE id = \(id)", logger: logger).first
    }

    /// What a withdrawal found.
    public enum Withdrawal: Sendable, Hashable {
        /// Withdrawn now (audited).
        case withdrawn(ExternalSignal)
        /// It was withdrawn before (nothing changed, nothing audited).
        case alreadyWithdrawn(ExternalSignal)
        /// No such signal.
        case notFound
    }

    /// Withdraws the signal `id` now, by `actor`: it stops counting at once; audited as `airlock.signal.withdrawn`
    /// (routed as the signal itself was). Withdrawing an expired signal is recorded too (it says someone judged it
    /// wrong); withdrawing it again changes nothing.
    public func withdraw(_ id: UUID, by actor: String, logger: Logger) async throws -> Withdrawal {
        let now = clock.now()
        return try await database.client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE risk_signals SET withdrawn_at = \(now), withdrawn_by = \(actor)
                WHERE id = \(id) AND withdrawn_at IS NULL
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            var withdrawn: ExternalSignal?
            for try await row in rows { withdrawn = try Self.signal(row) }
            guard let signal = withdrawn else {
                var existing: ExternalSignal?
                for try await row in try await connection.query(
                    "SELECT \(unescaped: Self.columns) FROM risk_signals WHERE id = \(id)", logger: logger)
                {
                    existing = try Self.signal(row)
                }
                return existing.map(Withdrawal.alreadyWithdrawn) ?? .notFound
            }
            let routing = AlertRouting.externalSignal(severity: signal.severity)
            var data = Self.facts(signal)
            data["actor"] = .string(actor)
            data["source"] = .string(signal.source)
            data["received_at"] = .string(AuditTime.format(signal.receivedAt))
            data["expires_at"] = .string(AuditTime.format(signal.expiresAt))
            data["was_active"] = .bool(signal.expiresAt > now)
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.signal.withdrawn", subject: Self.text(id), severity: routing.severity,
                    channels: routing.channels, data: data),
                on: connection, logger: logger)
            return .withdrawn(signal)
        }
    }

    /// The audit facts every signal event names.
    static func facts(_ signal: ExternalSignal) -> [String: JSONValue] {
        [
            "signal_id": .string(text(signal.id)), "principal": .string(signal.principal), "signal": .string(signal.name),
        ]
    }

    static let columns =
        "id, principal_id, signal, severity, detail, source, received_at, expires_at, withdrawn_at, withdrawn_by"

    private func fetch(_ condition: PostgresQuery, logger: Logger) async throws -> [ExternalSignal] {
        var query: PostgresQuery = "SELECT \(unescaped: Self.columns) FROM risk_signals"
        query.sql += " " + condition.sql
        query.binds = condition.binds
        var result: [ExternalSignal] = []
        for try await row in try await database.client.query(query, logger: logger) {
            result.append(try Self.signal(row))
        }
        return result
    }

    private static func signal(_ row: PostgresRow) throws -> ExternalSignal {
        let (id, principal, name, severity, detail, source, receivedAt, expiresAt, withdrawnAt, withdrawnBy) =
            try row.decode((UUID, String, String, String, String?, String, Date, Date, Date?, String?).self)
        guard let parsed = Severity(rawValue: severity) else {
            // The table's CHECK allows only the five severities.
            throw StoreError(code: "invalid_signal_row", message: "risk signal \(text(id)) has an unknown severity")
        }
        return ExternalSignal(
            id: id, principal: principal, name: name, severity: parsed, detail: detail, source: source,
            receivedAt: receivedAt, expiresAt: expiresAt, withdrawnAt: withdrawnAt, withdrawnBy: withdrawnBy)
    }

    static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
