import AirlockCore
import AirlockPolicy
import Foundation
import Logging
import PostgresNIO

extension AccessRequestStore {
    /// Records `reviewer`'s verdict on request `id`: locks the row, applies the state machine and the approval
    /// matcher, inserts the review, updates the status and appends the audit event, in one transaction.
    ///
    /// Throws ``AccessRequestError`` (`self_approval`, `already_reviewed`, `not_an_approver`, `request_closed`)
    /// with nothing written, or ``StoreError`` `not_found`.
    public func review(
        _ id: UUID, by reviewer: Principal, verdict: AccessRequestState.Verdict, comment: String = "",
        reliedOn: [ApprovalEvidence] = []
    ) async throws -> AccessRequestRecord {
        try await transaction { connection in
            try await review(id, by: reviewer, verdict: verdict, comment: comment, reliedOn: reliedOn, on: connection)
        }
        return try await require(id)
    }

    /// ``review(_:by:verdict:comment:)`` inside the caller's transaction.
    public func review(
        _ id: UUID, by reviewer: Principal, verdict: AccessRequestState.Verdict, comment: String,
        reliedOn: [ApprovalEvidence] = [], on connection: PostgresConnection
    ) async throws {
        guard let record = try await load(id, on: connection, lock: true) else {
            throw StoreError(code: "not_found", message: "no access request `\(id)`")
        }
        let now = clock.now()
        var state = record.state(windows: windows)
        let groups = Set(reviewer.groups)
        let action = verdict == .approve
            ? try state.apply(.approve(by: reviewer.id, kind: reviewer.kind, groups: groups, at: now))
            : try state.apply(.deny(by: reviewer.id, kind: reviewer.kind, groups: groups, at: now))
        try await connection.query("""
            INSERT INTO approvals (id, request_id, approver_id, approver_kind, verdict, groups, comment, created_at)
            VALUES (\(UUID()), \(id), \(reviewer.id), \(reviewer.kind.rawValue), \(verdict.rawValue), \(groups.sorted()),
                    \(comment), \(now))
            """, logger: logger)
        try await update(record, to: state, on: connection)
        let facts = AuditFacts(id: id, principal: record.principalID, resource: record.resourceID, role: record.role,
                               decision: record.decision, breakGlass: record.breakGlass)
        if var event = facts.event(for: action, ttl: state.grantedTTLSeconds.map(Int.init)) {
            event.data["reviewer"] = .string(reviewer.id)
            event.data["verdict"] = .string(verdict.rawValue)
            if !reliedOn.isEmpty { event.data["relied_on"] = .array(reliedOn.map { .string($0.rawValue) }) }
            try await auditLog.append(event, on: connection, logger: logger)
        }
    }

    /// Expires up to `limit` requests that are due at the clock's now: pending past their decision deadline, or
    /// approved past their pickup deadline with no lease begun. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
    /// concurrent sweepers (other replicas) take disjoint rows. Returns the expired ids.
    @discardableResult
    public func expireDue(limit: Int = 100) async throws -> [UUID] {
        try await transaction { connection in
            let now = clock.now()
            let due = try await connection.query("""
                SELECT r.id FROM access_requests r
                WHERE (r.status = 'pending_approval' AND r.decision_deadline <= \(now))
                   OR (r.status = 'approved' AND r.pickup_deadline <= \(now)
                       AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.request_id = r.id))
                ORDER BY r.created_at LIMIT \(max(1, limit))
                FOR UPDATE OF r SKIP LOCKED
                """, logger: logger)
            var ids: [UUID] = []
            for try await id in due.decode(UUID.self) { ids.append(id) }
            var expired: [UUID] = []
            for id in ids {
                guard let record = try await load(id, on: connection, lock: true) else { continue }
                var state = record.state(windows: windows)
                let action = try state.apply(.expire(now: now))
                guard case .expire = action else { continue }
                try await update(record, to: state, on: connection)
                let facts = AuditFacts(id: id, principal: record.principalID, resource: record.resourceID,
                                       role: record.role, decision: record.decision, breakGlass: record.breakGlass)
                if let event = facts.event(for: action, ttl: state.grantedTTLSeconds.map(Int.init)) {
                    try await auditLog.append(event, on: connection, logger: logger)
                }
                expired.append(id)
            }
            return expired
        }
    }

    /// Writes the state's status and times to the request row.
    func update(
        _ record: AccessRequestRecord, to state: AccessRequestState, on connection: PostgresConnection
    ) async throws {
        let granted = state.status == .denied ? record.grantedTTLSeconds : state.grantedTTLSeconds.map(Int.init)
        try await connection.query("""
            UPDATE access_requests SET status = \(state.status.rawValue), granted_ttl_seconds = \(granted),
                decided_at = \(state.decidedAt), decision_deadline = \(state.decisionDeadline),
                pickup_deadline = \(state.pickupDeadline), closed_at = \(state.closedAt)
            WHERE id = \(record.id)
            """, logger: logger)
    }
}
