import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// An endpoint a dispatcher has claimed: it alone delivers to it until it releases it or its claim lapses, so the
/// endpoint's events go out one at a time, in the chain's order.
public struct ClaimedWebhookEndpoint: Sendable {
    public let endpoint: WebhookEndpoint
    /// The key material it signs with: the current key first, then the previous one during a rotation window
    /// (HMAC secret bytes, or an Ed25519 private key's seed, by ``WebhookEndpoint/signing``).
    public let signingKeys: [[UInt8]]
    /// A Shared Signals stream's `aud` (empty for a CloudEvents endpoint).
    public let audience: [String]

    /// Its delivery state (failures in a row, since when), as the endpoint's row holds it.
    public var state: WebhookDeliveryState {
        WebhookDeliveryState(failures: endpoint.failures, failingSince: endpoint.failingSince)
    }
}

/// One event waiting for one endpoint, ready to post.
public struct PendingWebhookDelivery: Sendable, Hashable {
    public let id: Int64
    /// The event's id: the `webhook-id` header and the CloudEvents `id`, the same on every retry.
    public let eventID: UUID
    public let sequence: Int64
    /// Which of the SETs its event becomes for a Shared Signals stream (0 for a CloudEvents endpoint).
    public let part: Int
    /// The CloudEvent as `GET /v1/audit` shows it (with `sequence`, `prevhash`, `hash`), canonical JSON.
    public let body: [UInt8]
    /// When the event happened (its `time`): the three days before a dead letter count from here.
    public let occurredAt: Date
    public let attempts: Int
}

/// The outbox's side of delivery (migration 0011): endpoints claimed with `FOR UPDATE SKIP LOCKED` by dispatchers on
/// every replica, their chained pending events in order, and the outcome of each attempt recorded — with
/// `airlock.webhook.disabled` and `airlock.webhook.dead_lettered` (severity high) audited in the same transaction.
public struct WebhookDeliveryStore: Sendable {
    let database: Database
    let auditLog: AuditLog
    let keys: DataKeyStore
    let clock: any WallClock
    /// The dispatcher's broker (``BrokerRegistry``), recorded as the claimant.
    let claimant: UUID
    /// How long a claim lasts: a dispatcher that dies mid-delivery loses its endpoints after this.
    public let claimDuration: TimeInterval

    public init(
        database: Database, auditLog: AuditLog, keys: DataKeyStore, clock: any WallClock = SystemWallClock(),
        claimant: UUID = UUID(), claimDuration: TimeInterval = 60
    ) {
        self.database = database
        self.auditLog = auditLog
        self.keys = keys
        self.clock = clock
        self.claimant = claimant
        self.claimDuration = claimDuration
    }

    /// Claims up to `limit` active endpoints that are due (not backing off) and have chained events waiting, other
    /// than `excluding` (those this dispatcher is delivering to already), and opens their keys.
    public func claimDue(limit: Int, excluding: [UUID] = [], logger: Logger) async throws -> [ClaimedWebhookEndpoint] {
        let now = clock.now()
        let rows = try await database.client.query(
            """
            UPDATE webhook_endpoints e SET claimed_by = \(claimant), claimed_until = \(now.addingTimeInterval(claimDuration))
            WHERE e.id IN (
                SELECT c.id FROM webhook_endpoints c
                WHERE c.deleted_at IS NULL AND c.status = 'active' AND c.format <> 'ssf_poll'
                  AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= \(now))
                  AND (c.claimed_until IS NULL OR c.claimed_until <= \(now)
                       -- A claimant that stopped its heartbeats (killed) loses its endpoints at once.
                       OR EXISTS (SELECT 1 FROM broker_instances b WHERE b.id = c.claimed_by AND b.id <> \(claimant)
                           AND b.seen_at <= now() - \(unescaped: LeaseRevocationStore.claimantGone) * interval '1 millisecond'))
                  AND NOT (c.id = ANY(\(excluding)::uuid[]))
                  AND EXISTS (
                      SELECT 1 FROM webhook_deliveries d
                      WHERE d.endpoint_id = c.id AND d.status = 'pending' AND d.sequence IS NOT NULL)
                ORDER BY c.next_attempt_at NULLS FIRST, c.id
                LIMIT \(max(1, limit))
                FOR UPDATE SKIP LOCKED)
            RETURNING e.id, e.url, e.description, e.event_types, e.channels, e.min_severity, e.signing, e.public_key,
                e.created_at, e.created_by, e.failing_since, e.failures, e.secret,
                CASE WHEN e.previous_until > \(now) THEN e.previous_secret END, e.format,
                coalesce((SELECT s.audience FROM ssf_streams s WHERE s.id = e.id), '{}')
            """, logger: logger)
        var claimed: [ClaimedWebhookEndpoint] = []
        for try await (
            id, url, description, eventTypes, channels, severity, signing, publicKey, createdAt, createdBy, failingSince,
            failures, secret, previous, format, audience
        ) in rows.decode(
            (UUID, String, String, [String], [String], String, String, Data?, Date, String, Date?, Int32, Data, Data?,
             String, [String]).self)
        {
            let endpoint = WebhookEndpoint(
                id: id, url: url, description: description, eventTypes: eventTypes, channels: channels,
                minimumSeverity: Severity(rawValue: severity) ?? .info, signing: WebhookSigning(rawValue: signing) ?? .hmac,
                format: WebhookFormat(rawValue: format) ?? .cloudEvents, publicKey: publicKey.map { Array($0) },
                createdAt: createdAt, createdBy: createdBy, failingSince: failingSince, failures: Int(failures))
            let row = id.uuidString.lowercased()
            var signingKeys = [try await keys.open(
                try SealedSecret(bytes: Array(secret)), context: SealedColumn.webhookSecret.context(row: row),
                logger: logger)]
            if let previous {
                signingKeys.append(try await keys.open(
                    try SealedSecret(bytes: Array(previous)), context: SealedColumn.webhookPreviousSecret.context(row: row),
                    logger: logger))
            }
            claimed.append(ClaimedWebhookEndpoint(endpoint: endpoint, signingKeys: signingKeys, audience: audience))
        }
        return claimed
    }

    /// The first `limit` chained events waiting for `endpoint`, in the chain's order.
    public func pending(for endpoint: UUID, limit: Int, logger: Logger) async throws -> [PendingWebhookDelivery] {
        let rows = try await database.client.query(
            """
            SELECT d.id, a.id, a.sequence, a.prevhash, a.hash, a.event, a.occurred_at, d.attempts, d.part
            FROM webhook_deliveries d JOIN audit_events a ON a.id = d.event_id
            WHERE d.endpoint_id = \(endpoint) AND d.status = 'pending' AND d.sequence IS NOT NULL
            ORDER BY d.sequence, d.part
            LIMIT \(max(1, limit))
            """, logger: logger)
        var pending: [PendingWebhookDelivery] = []
        for try await (id, eventID, sequence, prevhash, hash, event, occurredAt, attempts, part) in rows.decode(
            (Int64, UUID, Int64, String, String, String, Date, Int32, Int16).self)
        {
            pending.append(PendingWebhookDelivery(
                id: id, eventID: eventID, sequence: sequence, part: Int(part),
                body: try Self.body(event: event, sequence: sequence, prevhash: prevhash, hash: hash),
                occurredAt: occurredAt, attempts: Int(attempts)))
        }
        return pending
    }

    /// The stored CloudEvent with its chain attributes, as canonical JSON (what `GET /v1/audit` shows, byte for byte
    /// the same on every retry).
    static func body(event: String, sequence: Int64, prevhash: String, hash: String) throws -> [UInt8] {
        guard case .object(var fields) = try JSONValue.parse(Data(event.utf8)) else {
            throw StoreError(code: "invalid_audit_event", message: "audit event \(sequence) is not a JSON object")
        }
        fields["sequence"] = .int(sequence)
        fields["prevhash"] = .string(prevhash)
        fields["hash"] = .string(hash)
        return Array(JSONValue.object(fields).canonicalString().utf8)
    }

    /// `deliveries` (to `endpoint`) were delivered at once (2xx each): marked so, and the endpoint's failures forgotten.
    public func delivered(_ deliveries: [Int64], endpoint: UUID, logger: Logger) async throws {
        guard !deliveries.isEmpty else { return }
        let now = clock.now()
        // The endpoint's row first, then its deliveries: the order every writer of both keeps (``failed``, the
        // removal of an endpoint), so that two of them never wait for each other (a deadlock, seen by the fuzzer
        // when an endpoint was deleted while a delivery to it failed).
        try await database.client.query(
            """
            WITH endpoint AS (
                UPDATE webhook_endpoints SET failures = 0, failing_since = NULL, next_attempt_at = NULL
                WHERE id = \(endpoint)
                RETURNING id
            )
            UPDATE webhook_deliveries SET status = 'delivered', delivered_at = \(now), attempts = attempts + 1,
                last_status_code = NULL, last_error = NULL
            WHERE id = ANY(\(deliveries)::int8[]) AND status = 'pending' AND endpoint_id IN (SELECT id FROM endpoint)
            """, logger: logger)
    }

    /// Records a failed attempt to deliver `delivery` to `endpoint` (`response`), the endpoint's new `state`, and
    /// carries out `action` (retry, disable, dead-letter) in one transaction, auditing what the security team must know.
    public func failed(
        _ delivery: PendingWebhookDelivery, to endpoint: WebhookEndpoint, response: WebhookResponse,
        state: WebhookDeliveryState, action: WebhookDeliveryState.Action, logger: Logger
    ) async throws {
        let (code, error) = Self.describe(response)
        let webhook = endpoint.id.uuidString.lowercased()
        try await database.client.withTransaction(logger: logger) { connection in
            // The endpoint's row first, then its deliveries (see ``delivered``).
            try await connection.query(
                "SELECT 1 FROM webhook_endpoints WHERE id = \(endpoint.id) FOR NO KEY UPDATE", logger: logger)
            try await connection.query(
                """
                UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = \(code), last_error = \(error)
                WHERE id = \(delivery.id)
                """, logger: logger)
            switch action {
            case .delivered:
                break
            case .retry(let at):
                try await connection.query(
                    """
                    UPDATE webhook_endpoints SET failures = \(Int32(clamping: state.failures)),
                        failing_since = \(state.failingSince), next_attempt_at = \(at)
                    WHERE id = \(endpoint.id)
                    """, logger: logger)
            case .disable(let reason):
                try await connection.query(
                    """
                    UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = \(reason), failures = 0,
                        failing_since = NULL, next_attempt_at = NULL
                    WHERE id = \(endpoint.id)
                    """, logger: logger)
                try await auditLog.append(
                    NewAuditEvent(
                        type: "airlock.webhook.disabled", subject: webhook, severity: AlertRouting.failure.severity,
                        channels: AlertRouting.failure.channels,
                        data: ["webhook_id": .string(webhook), "url": .string(WebhookDestination.origin(of: endpoint.url)), "reason": .string(reason),
                               "sequence": .int(delivery.sequence)]),
                    on: connection, logger: logger)
            case .deadLetter(let queuedBefore, let retryAt):
                let rows = try await connection.query(
                    """
                    WITH dead AS (
                        UPDATE webhook_deliveries d SET status = 'dead'
                        FROM audit_events a
                        WHERE a.id = d.event_id AND d.endpoint_id = \(endpoint.id) AND d.status = 'pending'
                          AND a.occurred_at <= \(queuedBefore)
                        RETURNING a.sequence
                    ), moved AS (
                        UPDATE webhook_endpoints SET failures = \(Int32(clamping: state.failures)),
                            failing_since = \(state.failingSince), next_attempt_at = \(retryAt)
                        WHERE id = \(endpoint.id)
                    )
                    SELECT count(*)::int8, min(sequence), max(sequence) FROM dead
                    """, logger: logger)
                for try await (count, first, last) in rows.decode((Int64, Int64?, Int64?).self) where count > 0 {
                    var data: [String: JSONValue] = [
                        "webhook_id": .string(webhook), "url": .string(WebhookDestination.origin(of: endpoint.url)), "count": .int(count),
                        "last_error": .string(error ?? "http \(code.map(String.init) ?? "?")"),
                    ]
                    if let first, let last { data["sequences"] = .object(["first": .int(first), "last": .int(last)]) }
                    try await auditLog.append(
                        NewAuditEvent(
                            type: "airlock.webhook.dead_lettered", subject: webhook, severity: AlertRouting.failure.severity,
                            channels: AlertRouting.failure.channels, data: data),
                        on: connection, logger: logger)
                }
            }
        }
    }

    /// Extends this dispatcher's claim on `endpoint` for another claim duration; false when it no longer holds it
    /// (it lapsed and another dispatcher took the endpoint: this one must stop, or the order would break).
    public func extendClaim(_ endpoint: UUID, logger: Logger) async throws -> Bool {
        let until = clock.now().addingTimeInterval(claimDuration)
        let rows = try await database.client.query(
            """
            UPDATE webhook_endpoints SET claimed_until = \(until)
            WHERE id = \(endpoint) AND claimed_by = \(claimant) AND deleted_at IS NULL AND status = 'active'
            RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Gives `endpoint` back (this dispatcher is done with it for now).
    public func release(_ endpoint: UUID, logger: Logger) async throws {
        try await database.client.query(
            """
            UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until = NULL
            WHERE id = \(endpoint) AND claimed_by = \(claimant)
            """, logger: logger)
    }

    /// When the next endpoint that waits (backing off, or claimed by a dispatcher that may die) becomes due; nil when
    /// none has chained events waiting.
    public func nextDue(logger: Logger) async throws -> Date? {
        let rows = try await database.client.query(
            """
            SELECT min(coalesce(greatest(e.next_attempt_at, e.claimed_until), 'epoch'::timestamptz))
            FROM webhook_endpoints e
            WHERE e.deleted_at IS NULL AND e.status = 'active' AND e.format <> 'ssf_poll'
              AND EXISTS (
                  SELECT 1 FROM webhook_deliveries d
                  WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.sequence IS NOT NULL)
            """, logger: logger)
        for try await due in rows.decode(Date?.self) { return due }
        return nil
    }

    /// The status code and the one-line error of a response, as the delivery row keeps them.
    static func describe(_ response: WebhookResponse) -> (code: Int32?, error: String?) {
        switch response {
        case .status(let status, _): (Int32(clamping: status), nil)
        case .failed(let reason): (nil, String(reason.prefix(500)))
        }
    }
}
