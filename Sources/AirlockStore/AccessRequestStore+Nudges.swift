import AirlockCore
import Foundation
import PostgresNIO

/// When a waiting request's approvers are reminded, and when it is escalated (`approvals.*`). Both fall inside the
/// request's decision window (an hour): a request past it is expired, not reminded.
public struct ApprovalNudges: Sendable, Hashable {
    /// How long a request waits before its approvers are reminded (once); nil: never.
    public var reminderAfterSeconds: Int64?
    /// How long a request waits before the escalation group hears of it (once); nil: never.
    public var escalationAfterSeconds: Int64?
    /// The group (alert channel) escalations go to; no escalation without one.
    public var escalationGroup: String?

    public init(reminderAfterSeconds: Int64? = 900, escalationAfterSeconds: Int64? = 1800, escalationGroup: String? = nil) {
        self.reminderAfterSeconds = reminderAfterSeconds
        self.escalationAfterSeconds = escalationAfterSeconds
        self.escalationGroup = escalationGroup
    }

    /// Whether anything is ever sent.
    var isActive: Bool { reminderAfterSeconds != nil || (escalationAfterSeconds != nil && escalationGroup != nil) }
}

extension AccessRequestStore {
    /// What one pass of ``nudgeDue(_:limit:)`` did.
    public struct Nudged: Sendable, Hashable {
        public var reminded: [UUID]
        public var escalated: [UUID]

        public init(reminded: [UUID] = [], escalated: [UUID] = []) {
            self.reminded = reminded
            self.escalated = escalated
        }
    }

    /// Reminds the approvers of requests that have waited `reminderAfterSeconds` (`airlock.access.approval_reminder`)
    /// and tells the escalation group of those that have waited `escalationAfterSeconds`
    /// (`airlock.access.approval_escalated`), each once per request, at the clock's now. Each event names whom the
    /// request still waits for and goes to their channels. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
    /// replicas sweeping at once take disjoint rows; a request decided or expired meanwhile is left alone.
    @discardableResult
    public func nudgeDue(_ nudges: ApprovalNudges, limit: Int = 100) async throws -> Nudged {
        guard nudges.isActive else { return Nudged() }
        let escalationGroup = nudges.escalationAfterSeconds == nil ? nil : nudges.escalationGroup
        return try await transaction { connection in
            let now = clock.now()
            let remindBefore = nudges.reminderAfterSeconds.map { now.addingTimeInterval(-TimeInterval($0)) }
            let escalateBefore = escalationGroup == nil
                ? nil : nudges.escalationAfterSeconds.map { now.addingTimeInterval(-TimeInterval($0)) }
            let due = try await connection.query("""
                SELECT r.id, r.reminded_at IS NULL AND r.created_at <= \(remindBefore)::timestamptz,
                       r.escalated_at IS NULL AND r.created_at <= \(escalateBefore)::timestamptz
                FROM access_requests r
                WHERE r.status = 'pending_approval' AND r.decision_deadline > \(now)
                  AND ((r.reminded_at IS NULL AND r.created_at <= \(remindBefore)::timestamptz)
                    OR (r.escalated_at IS NULL AND r.created_at <= \(escalateBefore)::timestamptz))
                ORDER BY r.created_at LIMIT \(max(1, limit))
                FOR UPDATE OF r SKIP LOCKED
                """, logger: logger)
            var claimed: [(UUID, Bool, Bool)] = []
            for try await row in due.decode((UUID, Bool?, Bool?).self) {
                claimed.append((row.0, row.1 ?? false, row.2 ?? false))
            }
            var nudged = Nudged()
            for (id, remind, escalate) in claimed {
                guard let record = try await load(id, on: connection, lock: false) else { continue }
                let facts = AuditFacts(id: id, principal: record.principalID, resource: record.resourceID,
                                       role: record.role, decision: record.decision, breakGlass: record.breakGlass)
                let waitingFor = ApproversWaitedFor(record.approvalProgress)
                // An escalation says all a reminder would; one event, and the reminder is then not sent.
                if escalate, let escalationGroup {
                    try await auditLog.append(facts.approvalEvent(
                        "airlock.access.approval_escalated", waitingFor: waitingFor, reason: record.reason,
                        decisionDeadline: record.decisionDeadline, ttl: Int64(record.ttlSeconds),
                        escalationGroup: escalationGroup), on: connection, logger: logger)
                    nudged.escalated.append(id)
                } else if remind {
                    try await auditLog.append(facts.approvalEvent(
                        "airlock.access.approval_reminder", waitingFor: waitingFor, reason: record.reason,
                        decisionDeadline: record.decisionDeadline, ttl: Int64(record.ttlSeconds)),
                        on: connection, logger: logger)
                    nudged.reminded.append(id)
                }
                // Every claimed row is due for one or the other; after an escalation no reminder follows.
                try await connection.query("""
                    UPDATE access_requests
                    SET reminded_at = coalesce(reminded_at, \(now)),
                        escalated_at = coalesce(\(escalate ? now : nil)::timestamptz, escalated_at)
                    WHERE id = \(id)
                    """, logger: logger)
            }
            return nudged
        }
    }
}
