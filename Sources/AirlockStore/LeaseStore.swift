import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// A lease as the API shows it.
public struct LeaseRecord: Sendable, Hashable {
    public var id: UUID
    public var requestID: UUID
    public var principalID: String
    public var resourceID: String
    public var role: String
    public var kind: Resource.Kind
    public var username: String?
    /// The `alkc_` token's id, for token credentials.
    public var tokenID: UUID?
    public var status: LeaseStatus
    public var issuedAt: Date?
    public var expiresAt: Date
    public var revokedAt: Date?
    public var lastError: String?
    /// When the lease began (the pickup wrote its intent): its first expiry, and every cap on renewal, are counted
    /// from here, so a renewal can never add the moments minting took.
    public var createdAt: Date
}

/// A lease begun: written as `issuing` before anything exists on the target.
public struct LeaseIntent: Sendable, Hashable {
    public let lease: UUID
    public let requestID: UUID
    public let expiresAt: Date
    public let resourceID: String
    public let role: String
    /// The request as it becomes when the lease is activated (``AccessRequestState`` after `pickUp`).
    let issuedRequest: AccessRequestState
}

/// Leases: intent first. ``begin(_:by:issuable:)`` claims the approved request and writes the lease row
/// (`issuing`) in one statement, before anything exists on the target; ``activate(_:username:token:)`` marks it
/// `active` and the request `issued` with the `airlock.credential.issued` event, again in one statement;
/// ``abandon(_:username:error:)`` hands a failed issuance to revocation (`revoking`), so no credential can exist that
/// Airlock does not know about.
public struct LeaseStore: Sendable {
    public let requests: AccessRequestStore
    /// The broker issuing (its ``BrokerRegistry/id``): an `issuing` lease records it while that broker is registered,
    /// so that when the broker dies mid-issuance (its registration gone or stale) another broker revokes whatever it
    /// may have created at once, instead of after ``LeaseRevocationStore/issuingTimeout``.
    public let issuer: UUID?

    /// Creates a lease store on top of the request store (same database, audit log and clock).
    public init(requests: AccessRequestStore, issuer: UUID? = nil) {
        self.requests = requests
        self.issuer = issuer
    }

    private var logger: Logger { requests.logger }

    /// Claims the approved request `requestID` of `principal` for pickup and writes the lease intent, in one
    /// statement (one round trip). `issuable` maps the resources whose credentials this broker can issue to their
    /// kind; nothing is written for any other. The lease lasts the request's granted TTL, or `ttlCap` seconds when
    /// that is less (what the policy grants at pickup).
    ///
    /// Throws ``StoreError`` `not_found` (no such request, or someone else's) or `not_issuable`, or
    /// ``AccessRequestError`` from the request's state machine: `not_approved` (pending or denied),
    /// `already_retrieved` (picked up before), `request_closed` (expired, or the pickup window has passed).
    public func begin(
        _ requestID: UUID, by principal: Principal, issuable: [String: Resource.Kind], ttlCap: Int64? = nil
    ) async throws -> LeaseIntent {
        let now = requests.clock.now()
        let lease = UUID()
        let ids = Array(issuable.keys)
        let kinds = ids.map { issuable[$0]?.rawValue ?? "" }
        // The conditions on the request are the `pickUp` guard of AccessRequestState; when they fail, nothing is
        // written and `refusal` asks the state machine why. `FOR UPDATE` serialises concurrent pickups of one
        // request; the unique `leases.request_id` makes the loser fail.
        let rows: QueryRows
        do {
            rows = try await requests.database.client.query("""
                WITH claimed AS (
                    SELECT r.id, r.principal_id, r.resource_id, r.role,
                        least(r.granted_ttl_seconds::int8, coalesce(\(ttlCap)::int8, r.granted_ttl_seconds::int8)) AS ttl,
                        r.decided_at, r.decision_deadline, r.pickup_deadline
                    FROM access_requests r
                    WHERE r.id = \(requestID) AND r.principal_id = \(principal.id) AND r.status = 'approved'
                      AND r.granted_ttl_seconds IS NOT NULL
                      AND (r.pickup_deadline IS NULL OR r.pickup_deadline > \(now))
                      AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.request_id = r.id)
                    FOR UPDATE OF r
                ), lease AS (
                    INSERT INTO leases (id, request_id, principal_id, resource_id, role, kind, status, expires_at,
                        max_expires_at, created_at, claimed_by)
                    SELECT \(lease), c.id, c.principal_id, c.resource_id, c.role, k.kind, 'issuing',
                        \(now) + make_interval(secs => c.ttl),
                        \(now) + make_interval(secs => c.ttl), \(now),
                        (SELECT i.id FROM broker_instances i WHERE i.id = \(issuer))
                    FROM claimed c JOIN unnest(\(ids)::text[], \(kinds)::text[]) AS k (resource_id, kind)
                        ON k.resource_id = c.resource_id
                    RETURNING expires_at
                )
                SELECT c.resource_id, c.role, c.ttl, c.decided_at, c.decision_deadline,
                    c.pickup_deadline, l.expires_at
                FROM lease l CROSS JOIN claimed c
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AccessRequestError(.alreadyRetrieved, "the credential of this request was already picked up")
        }
        for try await (resource, role, ttl, decidedAt, decisionDeadline, pickupDeadline, expiresAt) in rows.decode(
            (String, String, Int64, Date?, Date?, Date?, Date).self
        ) {
            var state = AccessRequestState(
                requester: principal.id, status: .approved, decision: nil, reviews: [], grantedTTLSeconds: ttl,
                decidedAt: decidedAt, decisionDeadline: decisionDeadline, pickupDeadline: pickupDeadline,
                closedAt: nil, windows: requests.windows)
            do {
                _ = try state.apply(.pickUp(at: now))
            } catch {
                try? await abandon(lease, error: "the request cannot be picked up: \(error.code.rawValue)")
                throw error
            }
            return LeaseIntent(lease: lease, requestID: requestID, expiresAt: expiresAt, resourceID: resource,
                               role: role, issuedRequest: state)
        }
        throw try await refusal(requestID, by: principal, at: now, issuable: issuable)
    }

    /// Why `begin` wrote nothing: the first check that fails, in the order the API reports them.
    private func refusal(
        _ requestID: UUID, by principal: Principal, at now: Date, issuable: [String: Resource.Kind]
    ) async throws -> any Error {
        let record = try await requests.database.client.withConnection { connection in
            try await requests.load(requestID, on: connection, lock: false, withReviews: false)
        }
        guard let record else { return StoreError(code: "not_found", message: "no access request `\(requestID)`") }
        // Someone else's request is not theirs to see: the same answer as no request at all.
        guard Principal.sameID(record.principalID, principal.id) else {
            return StoreError(code: "not_found", message: "no access request `\(requestID)`")
        }
        var state = record.state(windows: requests.windows)
        do {
            _ = try state.apply(.pickUp(at: now))
        } catch {
            return error
        }
        if record.leaseID != nil {
            return AccessRequestError(.alreadyRetrieved, "the credential of this request was already picked up")
        }
        if issuable[record.resourceID] == nil {
            return StoreError(code: "not_issuable", message: "credentials for `\(record.resourceID)` cannot be issued")
        }
        return AccessRequestError(.alreadyRetrieved, "the request changed while it was being picked up")
    }

    /// Marks the lease `active` with what it records of `credential` (a login's name; a token's hash, never its
    /// secret), marks the request `issued`, and appends `airlock.credential.issued` (names the username or token id
    /// and the lease, never the secret), in one statement.
    ///
    /// Throws ``StoreError`` `lease_not_issuing` and changes nothing when the lease is no longer being issued
    /// (abandoned) or its request is no longer approved.
    public func activate(_ intent: LeaseIntent, credential: MintedCredential) async throws {
        let now = requests.clock.now()
        var lease = LeaseState(status: .issuing, expiresAt: intent.expiresAt)
        guard case .activate = try lease.apply(.minted(at: now)) else { return }
        let username = credential.username
        let token = credential.token
        let tokenID = token?.id
        var data: [String: JSONValue] = [
            "lease_id": .string(intent.lease.uuidString.lowercased()),
            "request_id": .string(intent.requestID.uuidString.lowercased()),
            "principal": .string(intent.issuedRequest.requester), "resource": .string(intent.resourceID),
            "role": .string(intent.role), "expires_at": .string(AuditTime.format(intent.expiresAt)),
        ]
        if let username { data["username"] = .string(username) }
        if let tokenID { data["token_id"] = .string(tokenID.uuidString.lowercased()) }
        let event = requests.auditLog.stamp(NewAuditEvent(
            type: "airlock.credential.issued", subject: intent.lease.uuidString.lowercased(), data: data))
        let request = intent.issuedRequest
        // The lease row is locked first (so nothing else can change it before this commits), the request is
        // updated only if the lease is still `issuing`, the lease only if the request was: both or neither.
        let rows = try await requests.database.client.query("""
            WITH locked AS (
                SELECT id FROM leases
                WHERE id = \(intent.lease) AND request_id = \(intent.requestID) AND status = 'issuing'
                FOR UPDATE
            ), request AS (
                UPDATE access_requests SET status = \(request.status.rawValue), closed_at = \(request.closedAt)
                WHERE id = \(intent.requestID) AND status = 'approved' AND EXISTS (SELECT 1 FROM locked)
                RETURNING id
            ), lease AS (
                UPDATE leases SET status = \(lease.status.rawValue), username = \(username), token_id = \(tokenID),
                    issued_at = \(now), claimed_by = NULL
                WHERE id IN (SELECT id FROM locked) AND EXISTS (SELECT 1 FROM request)
                RETURNING id
            ), token AS (
                INSERT INTO api_tokens (id, kind, name, token_hash, scopes, audience, subject, lease_id, created_at,
                    expires_at)
                SELECT \(tokenID), 'credential', '', \(token.map { Data($0.hash) }), \(token?.scopes ?? []),
                    \(token?.audience), \(token?.subject), \(intent.lease), \(now), \(token?.expiresAt)
                WHERE \(tokenID)::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM lease)
            ), event AS (
                INSERT INTO audit_events (id, type, subject, severity, occurred_at, event)
                SELECT * FROM (VALUES \(auditRows: [event])) AS v WHERE EXISTS (SELECT 1 FROM lease)
            )
            SELECT count(*) FROM lease
            """, logger: logger)
        var activated: Int64 = 0
        for try await count in rows.decode(Int64.self) { activated = count }
        guard activated == 1 else {
            throw StoreError(code: "lease_not_issuing", message: "lease `\(intent.lease)` is not being issued")
        }
    }

    /// A failed issuance: the lease goes to `revoking` (due now) with the error, and the login's name when it was
    /// created, so revocation removes whatever part of the credential may exist; `airlock.credential.issuance_failed`
    /// (severity high) records the error for operators, in the same transaction. `error` must hold no secret (it may
    /// name the target's host and admin user: it is for operators, never for the requester).
    public func abandon(_ leaseID: UUID, username: String? = nil, error: String) async throws {
        let now = requests.clock.now()
        var lease = LeaseState(status: .issuing, expiresAt: now)
        guard case .removeCredential = try lease.apply(.issuanceFailed(at: now)) else { return }
        try await requests.transaction { [lease] connection in
            let rows = try await connection.query("""
                UPDATE leases SET status = \(lease.status.rawValue), last_error = \(error), next_attempt_at = \(now),
                    username = coalesce(\(username), username), revoke_reason = \(lease.endReason)
                WHERE id = \(leaseID) AND status = 'issuing'
                RETURNING request_id, principal_id, resource_id, role, username
                """, logger: logger)
            var abandoned: [(UUID, String, String, String, String?)] = []
            for try await row in rows.decode((UUID, String, String, String, String?).self) { abandoned.append(row) }
            for (request, principal, resource, role, login) in abandoned {
                var data: [String: JSONValue] = [
                    "lease_id": .string(leaseID.uuidString.lowercased()),
                    "request_id": .string(request.uuidString.lowercased()), "principal": .string(principal),
                    "resource": .string(resource), "role": .string(role), "error": .string(error),
                ]
                if let login { data["username"] = .string(login) }
                try await requests.auditLog.append(NewAuditEvent(
                    type: "airlock.credential.issuance_failed", subject: leaseID.uuidString.lowercased(),
                    severity: AlertRouting.failure.severity, channels: AlertRouting.failure.channels, data: data),
                    on: connection, logger: logger)
            }
        }
    }

    /// Moves the expiry of the active lease `id` to `expiresAt`, never past `maxExpiresAt` (the rule's cap counted
    /// from issue), with its token's expiry and `airlock.lease.renewed`, in one statement. Returns false (nothing
    /// changed) when the lease is not active or has already expired.
    public func renew(_ id: UUID, to expiresAt: Date, max maxExpiresAt: Date, by actor: String) async throws -> Bool {
        let until = min(expiresAt, maxExpiresAt)
        let event = requests.auditLog.stamp(NewAuditEvent(
            type: "airlock.lease.renewed", subject: id.uuidString.lowercased(),
            data: ["lease_id": .string(id.uuidString.lowercased()), "expires_at": .string(AuditTime.format(until)),
                   "max_expires_at": .string(AuditTime.format(maxExpiresAt)), "actor": .string(actor)]))
        let rows = try await requests.database.client.query("""
            WITH lease AS (
                UPDATE leases SET expires_at = \(until), max_expires_at = \(maxExpiresAt)
                WHERE id = \(id) AND status = 'active' AND expires_at > \(requests.clock.now())
                RETURNING id
            ), token AS (
                UPDATE api_tokens SET expires_at = \(until) WHERE lease_id IN (SELECT id FROM lease)
            ), event AS (
                INSERT INTO audit_events (id, type, subject, severity, occurred_at, event)
                SELECT * FROM (VALUES \(auditRows: [event])) AS v WHERE EXISTS (SELECT 1 FROM lease)
            )
            SELECT count(*) FROM lease
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return count == 1 }
        return false
    }

    /// The lease `id`, or nil.
    public func get(_ id: UUID) async throws -> LeaseRecord? {
        try await fetch("WHERE id = \(id)").first
    }

    /// The most leases one page holds.
    public static let maximumPageSize = 500

    /// The leases of `principal` (all principals when nil), newest first, at most `limit` (1 to
    /// ``maximumPageSize``) starting after the lease `after` (the last of the previous page; keyset pagination on
    /// `(created_at, id)`, so a page costs the same however deep it is). `nextCursor` is the last lease of a page
    /// with more after it. A cursor that names no lease of `principal` yields an empty page.
    public func list(
        principal: String?, limit: Int = 100, after: UUID? = nil
    ) async throws -> (items: [LeaseRecord], nextCursor: UUID?) {
        let limit = max(1, min(limit, Self.maximumPageSize))
        var leases = try await fetch("""
            WHERE (\(principal)::text IS NULL OR principal_id = \(principal))
              AND (\(after)::uuid IS NULL OR (created_at, id) < (
                  SELECT a.created_at, a.id FROM leases a
                  WHERE a.id = \(after) AND (\(principal)::text IS NULL OR a.principal_id = \(principal))))
            ORDER BY created_at DESC, id DESC LIMIT \(limit + 1)
            """)
        let more = leases.count > limit
        leases = Array(leases.prefix(limit))
        return (leases, more ? leases.last?.id : nil)
    }

    /// The active leases of `principal` (everyone's when nil), oldest first: what continuous evaluation re-decides.
    /// Ended leases, the bulk of the table, are never read.
    public func active(principal: String?) async throws -> [LeaseRecord] {
        try await fetch("""
            WHERE status = 'active' AND (\(principal)::text IS NULL OR principal_id = \(principal))
            ORDER BY created_at, id
            """)
    }

    private func fetch(_ condition: PostgresQuery) async throws -> [LeaseRecord] {
        var query: PostgresQuery = """
            SELECT id, request_id, principal_id, resource_id, role, kind, username, token_id, status, issued_at,
                expires_at, revoked_at, last_error, created_at FROM leases
            """
        query.sql += " " + condition.sql
        query.binds = condition.binds
        let rows = try await requests.database.client.query(query, logger: logger)
        var leases: [LeaseRecord] = []
        for try await row in rows {
            let c = row.makeRandomAccess()
            leases.append(LeaseRecord(
                id: try c["id"].decode(UUID.self), requestID: try c["request_id"].decode(UUID.self),
                principalID: try c["principal_id"].decode(String.self), resourceID: try c["resource_id"].decode(String.self),
                role: try c["role"].decode(String.self), kind: try Self.kind(c["kind"].decode(String.self)),
                username: try c["username"].decode(String?.self), tokenID: try c["token_id"].decode(UUID?.self),
                status: try Self.status(c["status"].decode(String.self)),
                issuedAt: try c["issued_at"].decode(Date?.self), expiresAt: try c["expires_at"].decode(Date.self),
                revokedAt: try c["revoked_at"].decode(Date?.self), lastError: try c["last_error"].decode(String?.self),
                createdAt: try c["created_at"].decode(Date.self)))
        }
        return leases
    }

    static func status(_ text: String) throws -> LeaseStatus {
        guard let status = LeaseStatus(rawValue: text) else {
            throw StoreError(code: "invalid_lease", message: "unknown lease status `\(text)`")
        }
        return status
    }

    static func kind(_ text: String) throws -> Resource.Kind {
        guard let kind = Resource.Kind(rawValue: text) else {
            throw StoreError(code: "invalid_lease", message: "invalid resource kind `\(text)`")
        }
        return kind
    }
}
