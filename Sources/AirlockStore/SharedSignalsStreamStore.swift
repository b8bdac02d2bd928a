import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Shared Signals streams (migration 0021): a stream is a webhook endpoint of format `ssf_push` or `ssf_poll` (so
/// its SETs go through the outbox and dispatchers) and a row of `ssf_streams` (owner, audience, event types). Each
/// change is audited in its transaction: `airlock.ssf.stream.created`, `.changed`, `.deleted`, and — delivered to
/// the stream itself as SETs — `airlock.ssf.stream.updated` (status) and `.verification`.
public struct SharedSignalsStreamStore: Sendable {
    let database: Database
    let auditLog: AuditLog
    let keys: DataKeyStore
    let clock: any WallClock

    public init(database: Database, auditLog: AuditLog, keys: DataKeyStore, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.auditLog = auditLog
        self.keys = keys
        self.clock = clock
    }

    /// Stores a new stream (its times are set here) with `authorization`, the header its pushes carry, sealed.
    public func create(_ asked: SharedSignalsStream, authorization: String?, logger: Logger) async throws -> SharedSignalsStream {
        var stream = asked
        stream.createdAt = clock.now()
        stream.updatedAt = stream.createdAt
        let created = stream
        let sealed = try await keys.seal(
            Array((authorization ?? "").utf8),
            context: SealedColumn.webhookSecret.context(row: Self.text(created.id)), logger: logger)
        let (format, url) = Self.endpoint(created.delivery)
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO webhook_endpoints (id, url, description, format, signing, secret, status, created_at, created_by)
                VALUES (\(created.id), \(url), \(created.description), \(format), 'none', \(Data(sealed.bytes)),
                    \(Self.endpointStatus(created.status)), \(created.createdAt), \(created.owner))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO ssf_streams (id, owner, audience, events_requested, events_delivered, status_reason,
                    created_at, updated_at)
                VALUES (\(created.id), \(created.owner), \(created.audience), \(created.eventsRequested),
                    \(created.eventsDelivered), \(created.statusReason), \(created.createdAt), \(created.updatedAt))
                """, logger: logger)
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.ssf.stream.created", subject: Self.text(created.id), severity: .medium,
                    data: Self.facts(created)),
                on: connection, logger: logger)
        }
        return created
    }

    /// The stream `id`, unless it was deleted.
    public func get(_ id: UUID, logger: Logger) async throws -> SharedSignalsStream? {
        try await streams(id: id, owner: nil, logger: logger).first
    }

    /// The streams of `owner` (every stream when nil), oldest first.
    public func list(owner: String?, logger: Logger) async throws -> [SharedSignalsStream] {
        try await streams(id: nil, owner: owner, logger: logger)
    }

    /// Replaces what a receiver may change of the stream `stream.id` — its delivery, audience, event types and
    /// description — and, when `authorization` is not nil, its authorization header. Audited with what changed.
    /// Nil when there is no such stream.
    public func update(
        _ stream: SharedSignalsStream, authorization: String??, by actor: String, logger: Logger
    ) async throws -> SharedSignalsStream? {
        let now = clock.now()
        let sealed: Data?
        if case .some(let value) = authorization {
            sealed = Data(try await keys.seal(
                Array((value ?? "").utf8), context: SealedColumn.webhookSecret.context(row: Self.text(stream.id)),
                logger: logger).bytes)
        } else {
            sealed = nil
        }
        let (format, url) = Self.endpoint(stream.delivery)
        let updated: Bool = try await database.client.withTransaction(logger: logger) { connection in
            var found = false
            for try await _ in try await connection.query(
                """
                UPDATE webhook_endpoints SET url = \(url), format = \(format), description = \(stream.description),
                    secret = coalesce(\(sealed), secret)
                WHERE id = \(stream.id) AND deleted_at IS NULL AND format <> 'cloudevents'
                RETURNING id
                """, logger: logger) { found = true }
            guard found else { return false }
            try await connection.query(
                """
                UPDATE ssf_streams SET audience = \(stream.audience), events_requested = \(stream.eventsRequested),
                    events_delivered = \(stream.eventsDelivered), updated_at = \(now)
                WHERE id = \(stream.id)
                """, logger: logger)
            var data = Self.facts(stream)
            data["actor"] = .string(actor)
            data["authorization_changed"] = .bool(sealed != nil)
            _ = try await auditLog.append(
                NewAuditEvent(type: "airlock.ssf.stream.changed", subject: Self.text(stream.id), severity: .medium, data: data),
                on: connection, logger: logger)
            return true
        }
        return updated ? try await get(stream.id, logger: logger) : nil
    }

    /// Deletes the stream `id`: nothing more is queued for it and its undelivered SETs are dropped. False when there
    /// is no such stream.
    public func delete(_ id: UUID, by actor: String, logger: Logger) async throws -> Bool {
        let now = clock.now()
        return try await database.client.withTransaction(logger: logger) { connection in
            var dropped: Int64?
            for try await count in try await connection.query(
                """
                WITH removed AS (
                    UPDATE webhook_endpoints SET deleted_at = \(now), claimed_by = NULL, claimed_until = NULL
                    WHERE id = \(id) AND deleted_at IS NULL AND format <> 'cloudevents'
                    RETURNING id
                ), dropped AS (
                    DELETE FROM webhook_deliveries d USING removed WHERE d.endpoint_id = removed.id AND d.status = 'pending'
                    RETURNING d.id
                )
                SELECT (SELECT count(*) FROM dropped)::int8 FROM removed
                """, logger: logger
            ).decode(Int64.self) { dropped = count }
            guard let dropped else { return false }
            try await connection.query("DELETE FROM ssf_streams WHERE id = \(id)", logger: logger)
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.ssf.stream.deleted", subject: Self.text(id), severity: .medium,
                    data: ["stream_id": .string(Self.text(id)), "actor": .string(actor),
                           "undelivered_dropped": .int(dropped)]),
                on: connection, logger: logger)
            return true
        }
    }

    /// Sets the stream's status (with the receiver's reason) and records `airlock.ssf.stream.updated`, which goes to
    /// the stream as a `stream-updated` SET unless it is now disabled. Nil when there is no such stream.
    public func setStatus(
        _ id: UUID, _ status: SharedSignalsStream.Status, reason: String?, by actor: String, logger: Logger
    ) async throws -> SharedSignalsStream? {
        let now = clock.now()
        let changed: Bool = try await database.client.withTransaction(logger: logger) { connection in
            var found = false
            for try await _ in try await connection.query(
                """
                UPDATE webhook_endpoints SET status = \(Self.endpointStatus(status)), disabled_reason = NULL,
                    next_attempt_at = NULL, failures = 0, failing_since = NULL
                WHERE id = \(id) AND deleted_at IS NULL AND format <> 'cloudevents'
                RETURNING id
                """, logger: logger) { found = true }
            guard found else { return false }
            try await connection.query(
                "UPDATE ssf_streams SET status_reason = \(reason), updated_at = \(now) WHERE id = \(id)", logger: logger)
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.ssf.stream.updated", subject: Self.text(id), severity: .low,
                    data: ["stream_id": .string(Self.text(id)), "status": .string(status.rawValue),
                           "reason": reason.map(JSONValue.string) ?? .null, "actor": .string(actor)]),
                on: connection, logger: logger)
            return true
        }
        return changed ? try await get(id, logger: logger) : nil
    }

    /// Records `airlock.ssf.stream.verification` with `state`: the stream's next SET is a `verification` event
    /// echoing it. False when there is no such stream.
    public func requestVerification(_ id: UUID, state: String?, by actor: String, logger: Logger) async throws -> Bool {
        guard try await get(id, logger: logger) != nil else { return false }
        try await database.client.withTransaction(logger: logger) { connection in
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.ssf.stream.verification", subject: Self.text(id),
                    data: ["stream_id": .string(Self.text(id)), "state": state.map(JSONValue.string) ?? .null,
                           "actor": .string(actor)]),
                on: connection, logger: logger)
        }
        return true
    }

    /// Marks the SETs `deliveries` (event id and part) of poll stream `id` acknowledged; the number marked.
    public func acknowledge(_ id: UUID, _ deliveries: [(eventID: UUID, part: Int)], logger: Logger) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        let now = clock.now()
        let events = deliveries.map(\.eventID)
        let parts = deliveries.map { Int16(clamping: $0.part) }
        let rows = try await database.client.query(
            """
            WITH acked AS (
                UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = \(now)
                FROM unnest(\(events)::uuid[], \(parts)::int2[]) AS a (event_id, part)
                WHERE d.endpoint_id = \(id) AND d.event_id = a.event_id AND d.part = a.part AND d.status = 'pending'
                RETURNING d.id
            )
            SELECT count(*)::int8 FROM acked
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// The audit facts of a stream (never its authorization header).
    static func facts(_ stream: SharedSignalsStream) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "stream_id": .string(text(stream.id)), "owner": .string(stream.owner),
            "audience": .array(stream.audience.map { .string($0) }), "delivery_method": .string(stream.delivery.method),
            "events_delivered": .array(stream.eventsDelivered.map { .string($0) }),
        ]
        if case .push(let url) = stream.delivery { data["endpoint"] = .string(WebhookDestination.origin(of: url)) }
        if !stream.description.isEmpty { data["description"] = .string(stream.description) }
        return data
    }

    private static func endpoint(_ delivery: SharedSignalsStream.Delivery) -> (format: String, url: String) {
        switch delivery {
        case .push(let url): (WebhookFormat.sharedSignalsPush.rawValue, url)
        case .poll: (WebhookFormat.sharedSignalsPoll.rawValue, "")
        }
    }

    private static func endpointStatus(_ status: SharedSignalsStream.Status) -> String {
        switch status {
        case .enabled: "active"
        case .paused: "paused"
        case .disabled: "disabled"
        }
    }

    private func streams(id: UUID?, owner: String?, logger: Logger) async throws -> [SharedSignalsStream] {
        let rows = try await database.client.query(
            """
            SELECT s.id, s.owner, s.audience, e.format, e.url, s.events_requested, s.events_delivered, e.description,
                e.status, s.status_reason, s.created_at, s.updated_at
            FROM ssf_streams s JOIN webhook_endpoints e ON e.id = s.id AND e.deleted_at IS NULL
            WHERE (\(id)::uuid IS NULL OR s.id = \(id)) AND (\(owner)::text IS NULL OR s.owner = \(owner))
            ORDER BY s.created_at, s.id
            """, logger: logger)
        var result: [SharedSignalsStream] = []
        for try await (
            id, owner, audience, format, url, requested, delivered, description, status, reason, createdAt, updatedAt
        ) in rows.decode(
            (UUID, String, [String], String, String, [String], [String], String, String, String?, Date, Date).self)
        {
            result.append(SharedSignalsStream(
                id: id, owner: owner, audience: audience,
                delivery: format == WebhookFormat.sharedSignalsPoll.rawValue ? .poll : .push(url: url),
                eventsRequested: requested, eventsDelivered: delivered, description: description,
                status: status == "active" ? .enabled : (status == "paused" ? .paused : .disabled),
                statusReason: reason, createdAt: createdAt, updatedAt: updatedAt))
        }
        return result
    }

    static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
