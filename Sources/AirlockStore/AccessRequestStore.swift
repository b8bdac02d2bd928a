import AirlockCore
import AirlockPolicy
import Foundation
import Logging
import PostgresNIO

/// Access requests in PostgreSQL: each state change goes through ``AccessRequestState`` and commits with its
/// audit event in one transaction.
///
/// Reviews lock the request row (`FOR UPDATE`), so concurrent reviews of one request are serialised and each
/// sees the others; the expiry sweep claims due rows with `FOR UPDATE SKIP LOCKED`, so replicas never expire a
/// request twice. Times come from the injected clock.
public struct AccessRequestStore: Sendable {
    /// The database.
    public let database: Database
    /// Where audit events are appended.
    public let auditLog: AuditLog
    /// The clock every transition is stamped with.
    public let clock: any WallClock
    /// The decision and pickup windows.
    public let windows: AccessRequestState.Windows
    /// The logger.
    public let logger: Logger

    /// Creates a store.
    public init(
        database: Database, auditLog: AuditLog, clock: any WallClock = SystemWallClock(),
        windows: AccessRequestState.Windows = .init(), logger: Logger
    ) {
        self.database = database
        self.auditLog = auditLog
        self.clock = clock
        self.windows = windows
        self.logger = logger
    }

    // MARK: - Create

    /// Records a decided request (pending, approved or denied by policy) and its audit events in one statement,
    /// inserting the resource row first if it is missing.
    public func create(
        _ request: NewAccessRequest, resource: Resource, decision: Decision, evaluationInput: JSONValue,
        policySetID: UUID?, risk: RiskAssessment = .none
    ) async throws -> AccessRequestRecord {
        let id = try await createReturningID(
            request, resource: resource, decision: decision, evaluationInput: evaluationInput, policySetID: policySetID,
            risk: risk)
        return try await require(id)
    }

    /// ``create(_:resource:decision:evaluationInput:policySetID:)`` without reading the request back: the id only
    /// (one round trip; the caller already knows the status from the decision).
    public func createReturningID(
        _ request: NewAccessRequest, resource: Resource, decision: Decision, evaluationInput: JSONValue,
        policySetID: UUID?, risk: RiskAssessment = .none
    ) async throws -> UUID {
        try await database.client.withConnection { connection in
            try await create(request, resource: resource, decision: decision, evaluationInput: evaluationInput,
                             policySetID: policySetID, risk: risk, on: connection)
        }
    }

    /// ``create(_:resource:decision:evaluationInput:policySetID:)`` on `connection` (inside the caller's
    /// transaction, if any). Returns the id.
    ///
    /// The resource row (if missing), the request and its audit events are written by one statement, so they
    /// commit together even outside a transaction, in one round trip.
    public func create(
        _ request: NewAccessRequest, resource: Resource, decision: Decision, evaluationInput: JSONValue,
        policySetID: UUID?, risk: RiskAssessment = .none, on connection: PostgresConnection
    ) async throws -> UUID {
        guard resource.id == request.ask.resource else {
            throw StoreError(code: "unknown_resource", message: "the resource does not match the request")
        }
        let now = clock.now()
        var state = AccessRequestState(requester: request.principal.id, windows: windows)
        let action = try state.apply(.decided(decision, at: now))
        let id = UUID()
        let granted = state.status == .denied ? nil : state.grantedTTLSeconds.map(Int.init)
        let facts = AuditFacts(id: id, principal: request.principal.id, resource: request.ask.resource,
                               role: request.ask.role, decision: decision, breakGlass: request.ask.breakGlass)
        var events = [auditLog.stamp(facts.event("airlock.access.requested", ttl: granted, extra: [
            "requested_ttl_seconds": .int(request.ask.ttlSeconds), "break_glass": .bool(request.ask.breakGlass),
            "risk": risk.json,
        ]))]
        if let event = facts.event(for: action, ttl: granted) { events.append(auditLog.stamp(event)) }
        if state.status == .pendingApproval {
            let waitingFor = ApproversWaitedFor(
                ApprovalMatcher.progress(state.approvalRules, approvers: [], requester: request.principal.id))
            events.append(auditLog.stamp(facts.approvalEvent(
                "airlock.access.approval_needed", waitingFor: waitingFor, reason: request.ask.reason,
                decisionDeadline: state.decisionDeadline, ttl: request.ask.ttlSeconds)))
        }
        if let anomaly = risk.anomaly {
            events.append(auditLog.stamp(Self.anomalyEvent(anomaly, risk: risk, request: id, of: request)))
        }
        // The principal's risk level moved: recorded (a CTE below) with its event. Several replicas recording two
        // requests of one principal at once may both see the old level and both say so; the level stored is the last.
        var changedLevel: String?
        if let level = risk.level, level.current != level.previous {
            changedLevel = level.current.rawValue
            events.append(auditLog.stamp(Self.levelEvent(level, risk: risk, request: id, of: request)))
        }
        let row = ResourceRow(resource)
        // DO NOTHING takes no row lock, so creating requests never serialises on the resource row.
        try await connection.query("""
            WITH resource AS (
                INSERT INTO resources (id, kind, env, owner, sensitivity, tags, attributes, connection, roles)
                VALUES (\(resource.id), \(resource.kind.rawValue), \(resource.env), \(resource.owner),
                        \(resource.sensitivity), \(resource.tags), \(row.attributes)::jsonb, \(row.connection)::jsonb,
                        \(row.roles)::jsonb)
                ON CONFLICT (id) DO NOTHING
            ), level AS (
                INSERT INTO risk_baselines (principal_id, first_request_at, requests, risk_level)
                SELECT \(request.principal.id), \(now), 0, \(changedLevel) WHERE \(changedLevel)::text IS NOT NULL
                ON CONFLICT (principal_id) DO UPDATE SET risk_level = EXCLUDED.risk_level
            ), request AS (
                INSERT INTO access_requests (id, principal_id, principal_kind, resource_id, role, ttl_seconds, reason,
                    ticket, break_glass, source_ip, status, decision, evaluation_input, policy_set_id,
                    granted_ttl_seconds, created_at, decided_at, decision_deadline, pickup_deadline, closed_at, risk)
                VALUES (\(id), \(request.principal.id), \(request.principal.kind.rawValue), \(request.ask.resource),
                    \(request.ask.role), \(request.ask.ttlSeconds), \(request.ask.reason), \(request.ask.ticket), \(request.ask.breakGlass),
                    \(request.ask.sourceIP)::inet, \(state.status.rawValue), \(decision.stored.canonicalString())::jsonb,
                    \(evaluationInput.canonicalString())::jsonb, \(policySetID), \(granted), \(now),
                    \(state.decidedAt), \(state.decisionDeadline), \(state.pickupDeadline), \(state.closedAt),
                    \(risk.json.canonicalString())::jsonb)
            )
            INSERT INTO audit_events (id, type, subject, severity, occurred_at, event) VALUES \(auditRows: events)
            """, logger: logger)
        return id
    }

    /// `airlock.anomaly.detected` for request `id`: the principal, the request, the score, each signal and each
    /// reason, at the alert's severity, for the security team.
    static func anomalyEvent(
        _ anomaly: AnomalyAlert, risk: RiskAssessment, request id: UUID, of request: NewAccessRequest
    ) -> NewAuditEvent {
        let title = "anomalous request by \(request.principal.id) for \(request.ask.resource) \(request.ask.role)"
        return NewAuditEvent(
            type: "airlock.anomaly.detected", subject: id.uuidString.lowercased(), severity: anomaly.severity,
            channels: [AlertRouting.security],
            data: [
                "title": .string(title), "principal": .string(request.principal.id),
                "principal_kind": .string(request.principal.kind.rawValue), "request_id": .string(id.uuidString.lowercased()),
                "resource": .string(request.ask.resource), "role": .string(request.ask.role),
                "break_glass": .bool(request.ask.breakGlass), "score": .int(risk.score),
                "signals": risk.json["signals"] ?? .array([]), "reasons": .array(anomaly.reasons.map { .string($0) }),
            ])
    }

    /// `airlock.risk.level_changed`: the principal's level moved with request `id` (CAEP `risk-level-change` for
    /// Shared Signals streams); `medium` when it rose to `HIGH`, `low` otherwise.
    static func levelEvent(
        _ level: (current: RiskLevel, previous: RiskLevel), risk: RiskAssessment, request id: UUID,
        of request: NewAccessRequest
    ) -> NewAuditEvent {
        let reason = risk.signals.prefix(3).map(\.name).joined(separator: ", ")
        return NewAuditEvent(
            type: "airlock.risk.level_changed", subject: request.principal.id,
            severity: level.current == .high ? .medium : .low,
            data: [
                "principal": .string(request.principal.id), "previous_level": .string(level.previous.rawValue),
                "current_level": .string(level.current.rawValue), "score": .int(risk.score),
                "request_id": .string(id.uuidString.lowercased()),
                "reason": reason.isEmpty ? .null : .string("score \(risk.score): \(reason)"),
            ])
    }

    // MARK: - Read

    /// The request `id` with its reviews, or nil.
    public func get(_ id: UUID) async throws -> AccessRequestRecord? {
        try await database.client.withConnection { connection in try await load(id, on: connection, lock: false) }
    }

    /// Requests oldest first, filtered by requester, status and (for approvers) reviewability: with
    /// `reviewableBy`, only requests by someone else that need one of the reviewer's groups or name the reviewer
    /// in a `user` requirement, and that the reviewer has not reviewed yet. `after` is the last id of the previous page.
    public func list(
        principal: String? = nil, status: AccessRequestState.Status? = nil, reviewableBy reviewer: Principal? = nil,
        limit: Int = 50, after: UUID? = nil
    ) async throws -> (items: [AccessRequestRecord], nextCursor: UUID?) {
        let limit = max(1, min(limit, 500))
        var query: PostgresQuery = """
            SELECT \(unescaped: AccessRequestRecord.columns) FROM access_requests r
            WHERE (\(principal)::text IS NULL OR r.principal_id = \(principal))
              AND (\(status?.rawValue)::text IS NULL OR r.status = \(status?.rawValue))
              AND (\(after)::uuid IS NULL OR (r.created_at, r.id) > (SELECT a.created_at, a.id FROM access_requests a WHERE a.id = \(after)))
            """
        if let reviewer {
            query.sql += " AND r.principal_id <> $\(query.binds.count + 1)"
            query.binds.append(reviewer.id)
            query.sql += " AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id AND p.approver_id = $\(query.binds.count))"
            // A requirement on one of the reviewer's groups, or one that names the reviewer (byte for byte, as
            // `text =` compares). A service sees only requests with a requirement that includes services (people
            // see every one of their groups'), as the state machine lets it review only those.
            query.sql += """
                 AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.decision->'approvals') a,
                  jsonb_array_elements(a->'requires') q
                  WHERE (q->>'group' = ANY($\(query.binds.count + 1)) OR q->>'user' = $\(query.binds.count + 2))
                  AND ($\(query.binds.count + 3) = 'user' OR q->'services' = 'true'::jsonb))
                """
            query.binds.append(reviewer.groups)
            query.binds.append(reviewer.id)
            query.binds.append(reviewer.kind.rawValue)
        }
        query.sql += " ORDER BY r.created_at, r.id LIMIT \(limit + 1)"
        return try await database.client.withConnection { [query] connection in
            var items: [AccessRequestRecord] = []
            for try await row in try await connection.query(query, logger: logger) {
                items.append(try AccessRequestRecord(row: row, reviews: []))
            }
            let more = items.count > limit
            items = Array(items.prefix(limit))
            for index in items.indices { items[index].reviews = try await reviews(of: items[index].id, on: connection) }
            return (items, more ? items.last?.id : nil)
        }
    }

    /// At most this many known members are listed per group.
    public static let knownMembersLimit = 50

    /// Distinct reviewers Airlock has seen in each of `groups` (from past reviews), at most
    /// ``knownMembersLimit`` per group in id order: the "members known to Airlock" of the API's `approvers` field.
    /// An index range scan of `group_reviewers` per group (migration 0008), however many reviews were ever made.
    public func knownMembers(of groups: [String]) async throws -> [String: [String]] {
        let rows = try await database.client.query("""
            SELECT g, m.reviewer_id FROM unnest(\(Array(Set(groups)))::text[]) AS g,
              LATERAL (SELECT reviewer_id FROM group_reviewers WHERE group_name = g
                       ORDER BY reviewer_id LIMIT \(Self.knownMembersLimit)) AS m
            ORDER BY 1, 2
            """, logger: logger)
        var members: [String: [String]] = [:]
        for try await (group, approver) in rows.decode((String, String).self) { members[group, default: []].append(approver) }
        return members
    }

    /// The request `id`; `withReviews: false` skips reading its reviews (for transitions that do not use them,
    /// such as pickup).
    func load(
        _ id: UUID, on connection: PostgresConnection, lock: Bool, withReviews: Bool = true
    ) async throws -> AccessRequestRecord? {
        var query: PostgresQuery = "SELECT \(unescaped: AccessRequestRecord.columns) FROM access_requests r WHERE r.id = \(id)"
        if lock { query.sql += " FOR UPDATE OF r" }
        var record: AccessRequestRecord?
        for try await row in try await connection.query(query, logger: logger) {
            record = try AccessRequestRecord(row: row, reviews: [])
        }
        if withReviews, record != nil { record?.reviews = try await reviews(of: id, on: connection) }
        return record
    }

    private func reviews(of id: UUID, on connection: PostgresConnection) async throws -> [AccessReview] {
        let rows = try await connection.query("""
            SELECT approver_id, approver_kind, groups, verdict, comment, created_at FROM approvals
            WHERE request_id = \(id) ORDER BY created_at, id
            """, logger: logger)
        var result: [AccessReview] = []
        for try await row in rows.decode((String, String, [String], String, String, Date).self) { result.append(AccessReview(row)) }
        return result
    }

    func require(_ id: UUID) async throws -> AccessRequestRecord {
        guard let record = try await get(id) else { throw StoreError(code: "not_found", message: "no access request `\(id)`") }
        return record
    }

    /// Runs `body` in a transaction, rethrowing the body's own error unwrapped when the rollback succeeded.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await database.client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
            throw error
        }
    }
}
