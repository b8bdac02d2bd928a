import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Webhook endpoints in `webhook_endpoints` (migration 0011): added with their signing key sealed (envelope
/// encryption, ``SealedColumn/webhookSecret``), listed without it, removed. Each change is audited in the same
/// transaction. The outbox trigger of migration 0011 queues a delivery for every later audit event an active
/// endpoint's filters select.
public struct WebhookStore: Sendable {
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

    /// Stores `endpoint` (its `createdAt` is set here) with `signingKey` — the `whsec_` secret's bytes for `hmac`,
    /// the Ed25519 private key's 32-byte seed for `ed25519` — sealed, and records `airlock.webhook.created`
    /// (without any key). Returns the record as stored.
    public func add(_ asked: WebhookEndpoint, signingKey: [UInt8], logger: Logger) async throws -> WebhookEndpoint {
        var stamped = asked
        stamped.createdAt = clock.now()
        stamped.status = .active
        let endpoint = stamped
        let sealed = try await keys.seal(
            signingKey, context: SealedColumn.webhookSecret.context(row: Self.text(endpoint.id)), logger: logger)
        let event = NewAuditEvent(
            type: "airlock.webhook.created", subject: Self.text(endpoint.id), severity: .medium,
            data: Self.facts(endpoint))
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO webhook_endpoints (id, url, description, event_types, channels, min_severity, signing,
                    public_key, secret, created_at, created_by)
                VALUES (\(endpoint.id), \(endpoint.url), \(endpoint.description), \(endpoint.eventTypes),
                    \(endpoint.channels), \(endpoint.minimumSeverity.rawValue), \(endpoint.signing.rawValue),
                    \(endpoint.publicKey.map { Data($0) }), \(Data(sealed.bytes)), \(endpoint.createdAt),
                    \(endpoint.createdBy))
                """, logger: logger)
            _ = try await auditLog.append(event, on: connection, logger: logger)
        }
        return endpoint
    }

    /// Every endpoint not removed, oldest first.
    public func list(logger: Logger) async throws -> [WebhookEndpoint] {
        try await endpoints(id: nil, logger: logger)
    }

    /// The endpoint `id`, unless it was removed.
    public func get(_ id: UUID, logger: Logger) async throws -> WebhookEndpoint? {
        try await endpoints(id: id, logger: logger).first
    }

    /// Removes the endpoint `id`: nothing more is queued or delivered to it, its undelivered events are dropped,
    /// and `airlock.webhook.deleted` is recorded with how many. False when there is no such endpoint (or it was
    /// removed before).
    public func remove(_ id: UUID, by actor: String, logger: Logger) async throws -> Bool {
        let now = clock.now()
        return try await database.client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                WITH removed AS (
                    UPDATE webhook_endpoints SET deleted_at = \(now), claimed_by = NULL, claimed_until = NULL
                    WHERE id = \(id) AND deleted_at IS NULL AND format = 'cloudevents'
                    RETURNING id, url
                ), dropped AS (
                    DELETE FROM webhook_deliveries d USING removed
                    WHERE d.endpoint_id = removed.id AND d.status = 'pending'
                    RETURNING d.id
                )
                SELECT url, (SELECT count(*) FROM dropped)::int8 FROM removed
                """, logger: logger)
            var found: (String, Int64)?
            for try await row in rows.decode((String, Int64).self) { found = row }
            guard let (url, dropped) = found else { return false }
            _ = try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.webhook.deleted", subject: Self.text(id), severity: .medium,
                    data: [
                        "webhook_id": .string(Self.text(id)), "url": .string(WebhookDestination.origin(of: url)), "actor": .string(actor),
                        "undelivered_dropped": .int(dropped),
                    ]),
                on: connection, logger: logger)
            return true
        }
    }

    /// What a replay re-delivers to one endpoint.
    public enum Replay: Sendable, Hashable {
        /// The chained events it receives with sequences in the range (either end open), whether delivered before
        /// or not.
        case sequences(from: Int64?, through: Int64?)
        /// The chained events it receives that happened in the interval (either end open).
        case time(from: Date?, until: Date?)
        /// Its dead letters.
        case deadLetters
    }

    /// Queues `replay` for the endpoint `id` again (a disabled endpoint is enabled again: the admin asks for these
    /// events to be delivered), records `airlock.webhook.replayed`, and returns how many events were queued; nil when
    /// there is no such endpoint. At most `limit` events per replay.
    public func replay(
        _ id: UUID, _ replay: Replay, by actor: String, limit: Int = 100_000, logger: Logger
    ) async throws -> Int? {
        let (fromSequence, throughSequence, since, until, dead): (Int64?, Int64?, Date?, Date?, Bool) =
            switch replay {
            case .sequences(let from, let through): (from, through, nil, nil, false)
            case .time(let from, let until): (nil, nil, from, until, false)
            case .deadLetters: (nil, nil, nil, nil, true)
            }
        return try await database.client.withTransaction(logger: logger) { connection in
            var exists = false
            for try await _ in try await connection.query(
                """
                UPDATE webhook_endpoints SET status = 'active', disabled_reason = NULL, next_attempt_at = NULL,
                    failures = 0, failing_since = NULL
                WHERE id = \(id) AND deleted_at IS NULL AND format = 'cloudevents'
                RETURNING id
                """, logger: logger
            ).decode(UUID.self) { exists = true }
            guard exists else { return nil }
            let rows = try await connection.query(
                """
                WITH chosen AS (
                    SELECT a.id, a.sequence FROM audit_events a, webhook_endpoints e
                    WHERE e.id = \(id) AND a.sequence IS NOT NULL
                      AND airlock_webhook_selects(e, a.type, a.severity, a.event)
                      AND (\(dead) = false OR EXISTS (
                          SELECT 1 FROM webhook_deliveries d
                          WHERE d.endpoint_id = e.id AND d.event_id = a.id AND d.status = 'dead'))
                      AND (\(fromSequence)::int8 IS NULL OR a.sequence >= \(fromSequence))
                      AND (\(throughSequence)::int8 IS NULL OR a.sequence <= \(throughSequence))
                      AND (\(since)::timestamptz IS NULL OR a.occurred_at >= \(since))
                      AND (\(until)::timestamptz IS NULL OR a.occurred_at < \(until))
                    ORDER BY a.sequence
                    LIMIT \(max(1, limit))
                ), queued AS (
                    INSERT INTO webhook_deliveries (endpoint_id, event_id, sequence)
                    SELECT \(id), chosen.id, chosen.sequence FROM chosen
                    ON CONFLICT (endpoint_id, event_id, part) DO UPDATE
                        SET status = 'pending', attempts = 0, last_status_code = NULL, last_error = NULL,
                            delivered_at = NULL, sequence = EXCLUDED.sequence
                    RETURNING 1
                )
                SELECT count(*)::int8 FROM queued
                """, logger: logger)
            var queued: Int64 = 0
            for try await count in rows.decode(Int64.self) { queued = count }
            var data: [String: JSONValue] = [
                "webhook_id": .string(Self.text(id)), "actor": .string(actor), "queued": .int(queued),
            ]
            switch replay {
            case .sequences(let from, let through):
                if let from { data["from_sequence"] = .int(from) }
                if let through { data["to_sequence"] = .int(through) }
            case .time(let from, let until):
                if let from { data["since"] = .string(AuditTime.format(from)) }
                if let until { data["until"] = .string(AuditTime.format(until)) }
            case .deadLetters:
                data["dead_letters"] = .bool(true)
            }
            try await auditLog.append(
                NewAuditEvent(type: "airlock.webhook.replayed", subject: Self.text(id), severity: .medium, data: data),
                on: connection, logger: logger)
            return Int(queued)
        }
    }

    /// Records `airlock.webhook.test` naming the endpoint `id`: the outbox queues it for that endpoint alone,
    /// whatever its filters. Returns the event's id (its `webhook-id`), nil when there is no such active endpoint.
    public func queueTest(_ id: UUID, by actor: String, logger: Logger) async throws -> UUID? {
        guard let endpoint = try await get(id, logger: logger), endpoint.status == .active else { return nil }
        return try await database.client.withTransaction(logger: logger) { connection in
            try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.webhook.test", subject: Self.text(id),
                    data: ["webhook_id": .string(Self.text(id)), "actor": .string(actor),
                           "message": "a test delivery from Airlock"]),
                on: connection, logger: logger)
        }
    }

    /// The audit facts of an endpoint: what it receives and how it is signed, never a key, and its URL only up to
    /// its origin (``WebhookDestination/origin``).
    static func facts(_ endpoint: WebhookEndpoint) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "webhook_id": .string(text(endpoint.id)), "url": .string(WebhookDestination.origin(of: endpoint.url)),
            "event_types": .array(endpoint.eventTypes.map { .string($0) }),
            "channels": .array(endpoint.channels.map { .string($0) }),
            "min_severity": .string(endpoint.minimumSeverity.rawValue), "signing": .string(endpoint.signing.rawValue),
            "actor": .string(endpoint.createdBy),
        ]
        if !endpoint.description.isEmpty { data["description"] = .string(endpoint.description) }
        return data
    }

    /// Endpoints not removed (only `id`, when given), oldest first.
    private func endpoints(id: UUID?, logger: Logger) async throws -> [WebhookEndpoint] {
        let rows = try await database.client.query(
            """
            SELECT id, url, description, event_types, channels, min_severity, signing, public_key, status,
                disabled_reason, previous_until, created_at, created_by, failing_since, failures
            FROM webhook_endpoints
            WHERE deleted_at IS NULL AND format = 'cloudevents' AND (\(id)::uuid IS NULL OR id = \(id))
            ORDER BY created_at, id
            """, logger: logger)
        var result: [WebhookEndpoint] = []
        for try await (
            id, url, description, eventTypes, channels, severity, signing, publicKey, status, reason, rotationEnds,
            createdAt, createdBy, failingSince, failures
        ) in rows.decode(
            (UUID, String, String, [String], [String], String, String, Data?, String, String?, Date?, Date, String,
             Date?, Int32).self)
        {
            result.append(WebhookEndpoint(
                id: id, url: url, description: description, eventTypes: eventTypes, channels: channels,
                minimumSeverity: Severity(rawValue: severity) ?? .info, signing: WebhookSigning(rawValue: signing) ?? .hmac,
                publicKey: publicKey.map { Array($0) }, status: WebhookEndpoint.Status(rawValue: status) ?? .disabled,
                disabledReason: reason, rotationEndsAt: rotationEnds, createdAt: createdAt, createdBy: createdBy,
                failingSince: failingSince, failures: Int(failures)))
        }
        return result
    }

    static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
