import AirlockCore
import AirlockPolicy
import Foundation
import Logging
import PostgresNIO

/// A request the kill switch closed.
public struct ClosedRequest: Sendable, Hashable {
    /// The request id.
    public var id: UUID
    /// Its status before (`pending_approval` or `approved`).
    public var previousStatus: AccessRequestState.Status
    /// Its status now (`revoked`).
    public var status: AccessRequestState.Status
    public var resourceID: String
    public var role: String
}

extension AccessRequestStore {
    /// The kill switch for requests: closes every pending and approved request of `principal` as `revoked`, each
    /// with `airlock.access.revoked` (naming `actor` and `reason`), in one transaction. Rows are locked
    /// (`FOR UPDATE`), so a review or a pickup of one of them waits and then finds it closed; a lease already begun
    /// for an approved one cannot be activated any more (activation needs the request `approved`). Returns the
    /// requests closed, oldest first.
    public func revokeOpen(of principal: String, by actor: String, reason: String) async throws -> [ClosedRequest] {
        try await transaction { connection in
            let now = clock.now()
            let rows = try await connection.query("""
                SELECT \(unescaped: AccessRequestRecord.columns) FROM access_requests r
                WHERE r.principal_id = \(principal) AND r.status IN ('pending_approval', 'approved')
                ORDER BY r.created_at, r.id
                FOR UPDATE OF r
                """, logger: logger)
            var records: [AccessRequestRecord] = []
            for try await row in rows { records.append(try AccessRequestRecord(row: row, reviews: [])) }
            var closed: [ClosedRequest] = []
            for record in records {
                var state = record.state(windows: windows)
                let action = try state.apply(.revoke(at: now))
                guard case .revoke = action else { continue }
                try await update(record, to: state, on: connection)
                let facts = AuditFacts(id: record.id, principal: record.principalID, resource: record.resourceID,
                                       role: record.role, decision: record.decision, breakGlass: record.breakGlass,
                                       killSwitch: AlertRouting.isKillSwitch(reason))
                if var event = facts.event(for: action, ttl: record.grantedTTLSeconds) {
                    if event.severity < .medium { event.severity = .medium }
                    event.data["actor"] = .string(actor)
                    event.data["reason"] = .string(reason)
                    event.data["previous_status"] = .string(record.status.rawValue)
                    try await auditLog.append(event, on: connection, logger: logger)
                }
                closed.append(ClosedRequest(
                    id: record.id, previousStatus: record.status, status: state.status, resourceID: record.resourceID,
                    role: record.role))
            }
            return closed
        }
    }

    /// The pickup's re-decision, under the row lock: applies `.redecided(decision)` to the request `id` as it is
    /// now. When the current decision no longer grants it, the request is closed as `denied` with
    /// `airlock.access.denied` (`reason: redecided_at_pickup`, the current decision's outcome, rules and policy
    /// set), in one transaction. Returns the machine's action: ``AccessRequestState/Action/confirm(ttlSeconds:)``
    /// (nothing written) or ``AccessRequestState/Action/deny(reviewer:)``.
    ///
    /// Throws ``AccessRequestError`` (`not_approved`, `already_retrieved`, `request_closed`) with nothing written,
    /// or ``StoreError`` `not_found`.
    public func redecide(
        _ id: UUID, decision: Decision, policySetID: UUID?, reason: String = "redecided_at_pickup"
    ) async throws -> AccessRequestState.Action {
        try await transaction { connection in
            guard let record = try await load(id, on: connection, lock: true) else {
                throw StoreError(code: "not_found", message: "no access request `\(id)`")
            }
            let now = clock.now()
            var state = record.state(windows: windows)
            let action = try state.apply(.redecided(decision, at: now))
            guard case .deny = action else { return action }
            try await update(record, to: state, on: connection)
            let facts = AuditFacts(id: id, principal: record.principalID, resource: record.resourceID, role: record.role,
                                   decision: record.decision, breakGlass: record.breakGlass)
            if var event = facts.event(for: action, ttl: nil) {
                event.data["reason"] = .string(reason)
                event.data["current_decision"] = .string(decision.outcome.rawValue)
                event.data["current_rules"] = .array(decision.rules.map { .string($0) })
                if let policySetID { event.data["policy_set_id"] = .string(policySetID.uuidString.lowercased()) }
                try await auditLog.append(event, on: connection, logger: logger)
            }
            return action
        }
    }
}
