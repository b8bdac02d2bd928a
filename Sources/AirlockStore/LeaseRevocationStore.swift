import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// A lease claimed for revocation: what the revoker needs to remove its credential.
public struct LeaseToRevoke: Sendable, Hashable {
    public let id: UUID
    public let requestID: UUID
    public let principalID: String
    public let resourceID: String
    public let role: String
    public let kind: Resource.Kind
    /// The PostgreSQL login; nil for tokens, and for a login whose issuance never completed (find it by its
    /// `COMMENT ON ROLE`).
    public let username: String?
    public let tokenID: UUID?
    /// Why: `expired`, `revoked`, `issuance_incomplete`, or what the caller gave.
    public let reason: String
    /// Attempts so far, this one included.
    public let attempts: Int
}

/// Leases going away: due ones (expired, marked for revocation, issuance left incomplete) are claimed with
/// `FOR UPDATE SKIP LOCKED` and moved to `revoking` with a claim deadline, so replicas never work on one lease at
/// once and a lease whose worker died is picked up again after the deadline. A finished revocation marks the lease
/// `expired` or `revoked`, revokes its token row, and appends `airlock.credential.revoked` (and
/// `airlock.lease.expired`) in one statement; a failed one appends `airlock.credential.revocation_failed` and
/// schedules the next attempt with a growing pause. Airlock never stops retrying.
public struct LeaseRevocationStore: Sendable {
    public let requests: AccessRequestStore
    /// How long a claim lasts before another worker may take the lease again.
    public let claimTimeout: TimeInterval
    /// How old an `issuing` lease must be before it counts as abandoned.
    public let issuingTimeout: TimeInterval

    /// The broker claiming leases (its ``BrokerRegistry/id``), recorded on each claim while it is registered, so
    /// that other brokers take its claims again as soon as it is gone.
    public let claimant: UUID?

    /// The default claim timeout outlasts the longest revocation (each provider step has a 30 s deadline).
    public init(
        requests: AccessRequestStore, claimTimeout: TimeInterval = 300, issuingTimeout: TimeInterval = 300,
        claimant: UUID? = nil
    ) {
        self.requests = requests
        self.claimTimeout = claimTimeout
        self.issuingTimeout = issuingTimeout
        self.claimant = claimant
        let database = requests.database, logger = requests.logger
        self.ends = Coalescer(maximumBatch: Self.maximumEndsPerStatement) { ends in
            await Self.record(ends, database: database, logger: logger)
        }
    }

    /// Leases that end at the same moment (a burst of expiries) are recorded together, this many per statement at
    /// most (``record(_:database:logger:)``).
    static let maximumEndsPerStatement = 64

    /// The ends of leases waiting to be recorded, run together when several arrive at once.
    let ends: Coalescer<LeaseEnd, Void>

    /// How long a broker's registration may go without a heartbeat before its claims are taken again: twice its
    /// cache window (three heartbeats), and at least 5 s.
    static let claimantGone = "greatest(5000, 2 * b.cache_window_ms)"

    private var logger: Logger { requests.logger }

    /// Marks the leases `ids` (or every lease of `principal`) that are `active` or still `issuing` for revocation
    /// now, with `reason`. Returns the ids marked; others are left alone. An `issuing` lease marked here cannot be
    /// activated: its issuer hands the login it made to revocation instead.
    public func markForRevocation(ids: [UUID] = [], principal: String? = nil, reason: String) async throws -> [UUID] {
        let now = requests.clock.now()
        let rows = try await requests.database.client.query("""
            UPDATE leases SET status = 'revoking', revoke_reason = \(reason), next_attempt_at = \(now)
            WHERE status IN ('active', 'issuing') AND (id = ANY(\(ids)) OR principal_id = \(principal))
            RETURNING id
            """, logger: logger)
        var marked: [UUID] = []
        for try await id in rows.decode(UUID.self) { marked.append(id) }
        return marked
    }

    /// Claims up to `limit` due leases (or only `ids`, when given), none of the resources `excludingResources`:
    /// active past their expiry, `revoking` whose next attempt is due or whose claiming broker is gone, `issuing`
    /// whose issuing broker is gone (``LeaseStore/issuer``) or older than ``issuingTimeout``.
    public func claimDue(
        limit: Int = 50, ids: [UUID]? = nil, excludingResources: [String] = []
    ) async throws -> [LeaseToRevoke] {
        let now = requests.clock.now()
        let staleIssuing = now.addingTimeInterval(-issuingTimeout)
        let claimUntil = now.addingTimeInterval(claimTimeout)
        let rows = try await requests.database.client.query("""
            WITH due AS (
                SELECT id FROM leases
                WHERE ((status = 'active' AND expires_at <= \(now))
                    OR (status = 'revoking' AND next_attempt_at <= \(now))
                    OR (status IN ('revoking', 'issuing') AND claimed_by IS NOT NULL
                        AND claimed_by IS DISTINCT FROM \(claimant)
                        AND NOT EXISTS (SELECT 1 FROM broker_instances b WHERE b.id = leases.claimed_by
                            AND b.seen_at > now() - \(unescaped: Self.claimantGone) * interval '1 millisecond'))
                    OR (status = 'issuing' AND created_at <= \(staleIssuing)))
                  AND (\(ids)::uuid[] IS NULL OR id = ANY(\(ids)))
                  AND NOT (resource_id = ANY(\(excludingResources)::text[]))
                ORDER BY expires_at LIMIT \(max(1, limit))
                FOR UPDATE SKIP LOCKED
            )
            UPDATE leases l SET status = 'revoking', attempts = l.attempts + 1, next_attempt_at = \(claimUntil),
                claimed_by = (SELECT i.id FROM broker_instances i WHERE i.id = \(claimant)),
                revoke_reason = coalesce(l.revoke_reason,
                    CASE WHEN l.status = 'issuing' THEN 'issuance_incomplete' ELSE 'expired' END)
            FROM due WHERE l.id = due.id
            RETURNING l.id, l.request_id, l.principal_id, l.resource_id, l.role, l.kind, l.username, l.token_id,
                l.revoke_reason, l.attempts
            """, logger: logger)
        var claimed: [LeaseToRevoke] = []
        for try await row in rows.decode((UUID, UUID, String, String, String, String, String?, UUID?, String, Int32).self) {
            claimed.append(LeaseToRevoke(
                id: row.0, requestID: row.1, principalID: row.2, resourceID: row.3, role: row.4,
                kind: try LeaseStore.kind(row.5),
                username: row.6, tokenID: row.7, reason: row.8, attempts: Int(row.9)))
        }
        return claimed
    }

    /// The earliest moment a lease of a resource other than `excludingResources` becomes due for ``claimDue``:
    /// the expiry of an active lease, the next attempt (or claim deadline) of a `revoking` one, the moment an
    /// `issuing` one counts as abandoned. Nil when there is none. It may lie in the past (a lease due now). The claim
    /// deadlines of this broker's own revocations in flight are left out (one that fails wakes the sweep); a claim
    /// taken by a broker that is gone is not foreseen here: the sweep's fallback poll finds it.
    public func nextDue(excludingResources: [String] = []) async throws -> Date? {
        let rows = try await requests.database.client.query("""
            SELECT least(
                (SELECT min(expires_at) FROM leases WHERE status = 'active'
                    AND NOT (resource_id = ANY(\(excludingResources)::text[]))),
                (SELECT min(next_attempt_at) FROM leases WHERE status = 'revoking'
                    AND (claimed_by IS NULL OR claimed_by IS DISTINCT FROM \(claimant))
                    AND NOT (resource_id = ANY(\(excludingResources)::text[]))),
                (SELECT min(created_at) FROM leases WHERE status = 'issuing'
                    AND NOT (resource_id = ANY(\(excludingResources)::text[])))
                    + \(issuingTimeout) * interval '1 second')
            """, logger: logger)
        for try await due in rows.decode(Date?.self) { return due }
        return nil
    }

    /// The credential of `lease` is gone: the lease becomes `status` (``LeaseState`` says which: `expired` or
    /// `revoked`), its token row is revoked, and the events are appended, in one statement (shared with the other
    /// leases ending at that moment, each all-or-nothing). `username` is the login found, if any. Nothing changes
    /// when another worker has taken the lease since.
    public func finish(
        _ lease: LeaseToRevoke, as status: LeaseStatus, username: String?, terminatedSessions: Int = 0
    ) async throws {
        precondition(status.isEnded, "a lease finishes as expired or revoked")
        let now = requests.clock.now()
        var data = Self.facts(lease, username: username)
        data["reason"] = .string(lease.reason)
        data["terminated_sessions"] = .int(Int64(terminatedSessions))
        let routing = AlertRouting.credentialRevoked(reason: lease.reason)
        var events = [requests.auditLog.stamp(NewAuditEvent(
            type: "airlock.credential.revoked", subject: lease.id.uuidString.lowercased(), severity: routing.severity,
            channels: routing.channels, data: data))]
        if status == .expired {
            events.append(requests.auditLog.stamp(NewAuditEvent(
                type: "airlock.lease.expired", subject: lease.id.uuidString.lowercased(),
                data: Self.facts(lease, username: username))))
        }
        try await ends.submit(LeaseEnd(lease: lease.id, status: status, at: now, username: username, events: events))
    }

    /// The revocation of `lease` failed with `error` (no secret in it): the next attempt is scheduled at
    /// `retryAt`, and `airlock.credential.revocation_failed` (severity high) is appended, in one statement —
    /// unless another worker has claimed the lease since (its claim timed out): then nothing changes here.
    public func failed(_ lease: LeaseToRevoke, error: String, retryAt: Date) async throws {
        var data = Self.facts(lease, username: lease.username)
        data["error"] = .string(error)
        data["attempts"] = .int(Int64(lease.attempts))
        data["next_attempt_at"] = .string(AuditTime.format(retryAt))
        let event = requests.auditLog.stamp(NewAuditEvent(
            type: "airlock.credential.revocation_failed", subject: lease.id.uuidString.lowercased(),
            severity: AlertRouting.failure.severity, channels: AlertRouting.failure.channels, data: data))
        try await requests.database.client.query("""
            WITH lease AS (
                UPDATE leases SET last_error = \(error), next_attempt_at = \(retryAt), claimed_by = NULL
                WHERE id = \(lease.id) AND status = 'revoking' AND attempts = \(Int32(lease.attempts))
                RETURNING id
            )
            INSERT INTO audit_events (id, type, subject, severity, occurred_at, event)
            SELECT * FROM (VALUES \(auditRows: [event])) AS v WHERE EXISTS (SELECT 1 FROM lease)
            """, logger: logger)
    }

    private static func facts(_ lease: LeaseToRevoke, username: String?) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "lease_id": .string(lease.id.uuidString.lowercased()),
            "request_id": .string(lease.requestID.uuidString.lowercased()),
            "principal": .string(lease.principalID), "resource": .string(lease.resourceID), "role": .string(lease.role),
        ]
        if let username { data["username"] = .string(username) }
        if let token = lease.tokenID { data["token_id"] = .string(token.uuidString.lowercased()) }
        return data
    }
}

extension LeaseToRevoke {
    /// The claimed lease as its state machine sees it: `revoking`, for ``reason`` (its expiry plays no part from
    /// here on). Its `credentialRemoved` event says whether it finishes `expired` or `revoked`.
    public var state: LeaseState {
        LeaseState(status: .revoking, expiresAt: .distantPast, endReason: reason)
    }
}
