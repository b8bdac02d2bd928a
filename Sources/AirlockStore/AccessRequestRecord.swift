import AirlockCore
import AirlockPolicy
import Foundation
import PostgresNIO

/// What a principal asks for, before the decision: who, and their ``Ask``.
public struct NewAccessRequest: Sendable, Hashable {
    /// Who asks.
    public var principal: Principal
    /// What they ask for (the resource must be in the catalog, the TTL positive).
    public var ask: Ask

    /// Creates a request.
    public init(principal: Principal, ask: Ask) {
        self.principal = principal
        self.ask = ask
    }

    /// Creates a request from its parts.
    public init(
        principal: Principal, resourceID: String, role: String, ttlSeconds: Int, reason: String,
        ticket: String? = nil, breakGlass: Bool = false, sourceIP: String? = nil
    ) {
        self.init(principal: principal, ask: Ask(
            resource: resourceID, role: role, ttlSeconds: Int64(ttlSeconds), reason: reason, ticket: ticket,
            breakGlass: breakGlass, sourceIP: sourceIP))
    }
}

/// One review (a row of `approvals`).
public struct AccessReview: Sendable, Hashable {
    /// The reviewer's principal id.
    public var reviewer: String
    /// The reviewer's kind (`approvals.approver_kind`).
    public var kind: Principal.Kind
    /// The reviewer's groups when reviewing.
    public var groups: [String]
    /// Approve or deny.
    public var verdict: AccessRequestState.Verdict
    /// The reviewer's comment.
    public var comment: String
    /// When.
    public var at: Date
}

/// A stored access request with its reviews (`GET /v1/access-requests/{id}`).
public struct AccessRequestRecord: Sendable, Hashable {
    /// The request id.
    public var id: UUID
    /// The requester's principal id.
    public var principalID: String
    /// The requester's kind.
    public var principalKind: Principal.Kind
    /// The resource id.
    public var resourceID: String
    /// The role template.
    public var role: String
    /// The TTL asked for.
    public var ttlSeconds: Int
    /// The TTL granted (or granted on approval); nil on deny.
    public var grantedTTLSeconds: Int?
    /// The reason given.
    public var reason: String
    /// The ticket, if any.
    public var ticket: String?
    /// Whether break-glass was asked for.
    public var breakGlass: Bool
    /// The source address, if known.
    public var sourceIP: String?
    /// The status.
    public var status: AccessRequestState.Status
    /// The policy decision.
    public var decision: Decision
    /// The policy set the decision was made under.
    public var policySetID: UUID?
    /// When the request was made.
    public var createdAt: Date
    /// When it was approved, denied or expired.
    public var decidedAt: Date?
    /// Until when approvers may decide (pending).
    public var decisionDeadline: Date?
    /// Until when the credential may be picked up (approved).
    public var pickupDeadline: Date?
    /// When it reached a terminal status.
    public var closedAt: Date?
    /// The reviews, oldest first.
    public var reviews: [AccessReview]
    /// The lease of the issued credential, if any.
    public var leaseID: UUID?
    /// The risk assessment the request was decided with.
    public var risk: RiskAssessment = .none

    /// The state machine positioned at this record.
    public func state(windows: AccessRequestState.Windows = .init()) -> AccessRequestState {
        AccessRequestState(
            requester: principalID, status: status, decision: decision,
            reviews: reviews.map {
                .init(reviewer: $0.reviewer, kind: $0.kind, groups: Set($0.groups), verdict: $0.verdict, at: $0.at)
            },
            grantedTTLSeconds: grantedTTLSeconds.map(Int64.init), decidedAt: decidedAt,
            decisionDeadline: decisionDeadline, pickupDeadline: pickupDeadline, closedAt: closedAt, windows: windows)
    }

    /// Per applying approval rule, what a maximum matching has assigned and what is still needed.
    public var approvalProgress: [ApprovalProgress] {
        let state = state()
        return ApprovalMatcher.progress(state.approvalRules, approvers: state.approvers, requester: principalID)
    }

    /// Whether an approval by `reviewer` would count now: it meets a requirement that is still unmet.
    public func wouldAdvance(by reviewer: Approver) -> Bool {
        let state = state()
        return ApprovalMatcher.wouldAdvance(
            reviewer, rules: state.approvalRules, approvers: state.approvers, requester: principalID)
    }
}

extension AccessRequestRecord {
    /// The columns ``init(row:reviews:)`` reads, in a `SELECT` list over `access_requests r`.
    static let columns = """
        r.id, r.principal_id, r.principal_kind, r.resource_id, r.role, r.ttl_seconds, r.granted_ttl_seconds, \
        r.reason, r.ticket, r.break_glass, host(r.source_ip) AS source_ip, r.status, r.decision::text AS decision, \
        r.policy_set_id, r.created_at, r.decided_at, r.decision_deadline, r.pickup_deadline, r.closed_at, \
        (SELECT l.id FROM leases l WHERE l.request_id = r.id) AS lease_id, r.risk::text AS risk
        """

    /// Decodes a row selected with ``columns``.
    init(row: PostgresRow, reviews: [AccessReview]) throws {
        let cells = row.makeRandomAccess()
        let statusText = try cells["status"].decode(String.self)
        let kindText = try cells["principal_kind"].decode(String.self)
        guard let status = AccessRequestState.Status(rawValue: statusText), let kind = Principal.Kind(rawValue: kindText)
        else { throw StoreError(code: "corrupt_row", message: "access request row has an unknown status or kind") }
        self.id = try cells["id"].decode(UUID.self)
        self.principalID = try cells["principal_id"].decode(String.self)
        self.principalKind = kind
        self.resourceID = try cells["resource_id"].decode(String.self)
        self.role = try cells["role"].decode(String.self)
        self.ttlSeconds = try cells["ttl_seconds"].decode(Int.self)
        self.grantedTTLSeconds = try cells["granted_ttl_seconds"].decode(Int?.self)
        self.reason = try cells["reason"].decode(String.self)
        self.ticket = try cells["ticket"].decode(String?.self)
        self.breakGlass = try cells["break_glass"].decode(Bool.self)
        self.sourceIP = try cells["source_ip"].decode(String?.self)
        self.status = status
        self.decision = try Decision(stored: JSONValue.parse(try cells["decision"].decode(String.self)))
        self.policySetID = try cells["policy_set_id"].decode(UUID?.self)
        self.createdAt = try cells["created_at"].decode(Date.self)
        self.decidedAt = try cells["decided_at"].decode(Date?.self)
        self.decisionDeadline = try cells["decision_deadline"].decode(Date?.self)
        self.pickupDeadline = try cells["pickup_deadline"].decode(Date?.self)
        self.closedAt = try cells["closed_at"].decode(Date?.self)
        self.leaseID = try cells["lease_id"].decode(UUID?.self)
        guard let risk = RiskAssessment(json: try JSONValue.parse(try cells["risk"].decode(String.self))) else {
            throw StoreError(code: "corrupt_row", message: "access request row has a malformed risk assessment")
        }
        self.risk = risk
        self.reviews = reviews
    }
}

extension AccessReview {
    /// Decodes `(approver_id, approver_kind, groups, verdict, comment, created_at)`; an unknown kind reads as a
    /// service (which approves nothing a person must approve).
    init(_ row: (String, String, [String], String, String, Date)) {
        self.reviewer = row.0
        self.kind = Principal.Kind(rawValue: row.1) ?? .service
        self.groups = row.2
        self.verdict = AccessRequestState.Verdict(rawValue: row.3) ?? .deny
        self.comment = row.4
        self.at = row.5
    }
}

/// The non-secret columns of a `resources` row, as JSON text for `::jsonb` binds.
struct ResourceRow {
    let attributes: String
    let connection: String
    let roles: String

    init(_ resource: Resource) {
        attributes = JSONValue.object(resource.attributes).canonicalString()
        var connection: [String: JSONValue] = [:]
        if let target = resource.postgres {
            // Never the admin password: it is sealed with envelope encryption into `admin_secret` elsewhere.
            connection = [
                "host": .string(target.host), "port": .int(Int64(target.port)), "database": .string(target.database),
                "admin_user": .string(target.adminUser), "sslmode": .string(target.sslMode.rawValue),
                "connection_limit": .int(Int64(target.connectionLimit)),
                "scram_iterations": .int(Int64(target.scramIterations)),
            ]
            if let root = target.sslRootCert { connection["sslrootcert"] = .string(root) }
        }
        if let audience = resource.audience { connection["audience"] = .string(audience) }
        self.connection = JSONValue.object(connection).canonicalString()
        roles = JSONValue.object(resource.roles.mapValues { template in
            var fields: [String: JSONValue] = [:]
            if !template.grants.isEmpty {
                fields["grants"] = .array(template.grants.map { grant in
                    .object([
                        "privileges": .array(grant.privileges.map { .string($0) }),
                        "object": .string(grant.objectKind.rawValue), "schema": .string(grant.schema),
                        "pattern": .string(grant.pattern),
                    ])
                })
            }
            if !template.scopes.isEmpty { fields["scopes"] = .array(template.scopes.map { .string($0) }) }
            return .object(fields)
        }).canonicalString()
    }
}

/// The facts every access-request audit event carries. Never a secret: ids, names, the decision's rules.
struct AuditFacts {
    let id: UUID
    let principal: String
    let resource: String
    let role: String
    let decision: Decision
    /// Whether the request invoked break-glass (its events are `critical`, for the security channel).
    var breakGlass = false
    /// Whether the kill switch closed it.
    var killSwitch = false

    func event(_ type: String, ttl: Int?, extra: [String: JSONValue] = [:]) -> NewAuditEvent {
        var data: [String: JSONValue] = [
            "request_id": .string(id.uuidString.lowercased()), "principal": .string(principal),
            "resource": .string(resource), "role": .string(role), "decision": .string(decision.outcome.rawValue),
            "rules": .array(decision.rules.map { .string($0) }),
        ]
        if let ttl { data["ttl_seconds"] = .int(Int64(ttl)) }
        data.merge(extra) { _, new in new }
        let routing = AlertRouting.accessRequest(
            notify: decision.notify, denied: decision.outcome == .deny, breakGlass: breakGlass, killSwitch: killSwitch)
        return NewAuditEvent(
            type: type, subject: id.uuidString.lowercased(), severity: routing.severity, channels: routing.channels,
            data: data)
    }

    /// An event that asks people to decide the request (`airlock.access.approval_needed`, `.approval_reminder`,
    /// `.approval_escalated` with `escalationGroup`): whom it waits for (`approver_groups`, `approver_users`), why
    /// it was asked, and until when it can be decided, routed to the channels of those approvers.
    func approvalEvent(
        _ type: String, waitingFor: ApproversWaitedFor, reason: String, decisionDeadline: Date?, ttl: Int64,
        escalationGroup: String? = nil
    ) -> NewAuditEvent {
        var data: [String: JSONValue] = [
            "request_id": .string(id.uuidString.lowercased()), "principal": .string(principal),
            "resource": .string(resource), "role": .string(role), "decision": .string(decision.outcome.rawValue),
            "rules": .array(decision.rules.map { .string($0) }), "reason": .string(reason),
            "requested_ttl_seconds": .int(ttl),
            "approver_groups": .array(waitingFor.groups.map { .string($0) }),
            "approver_users": .array(waitingFor.users.map { .string($0) }),
        ]
        if let decisionDeadline { data["decision_deadline"] = .string(AuditTime.format(decisionDeadline)) }
        let routing: (severity: Severity, channels: [String])
        if let escalationGroup {
            data["escalated_to"] = .string(escalationGroup)
            routing = AlertRouting.approvalEscalated(notify: decision.notify, waitingFor: waitingFor, escalationGroup: escalationGroup)
        } else {
            routing = AlertRouting.approvalNeeded(notify: decision.notify, waitingFor: waitingFor, breakGlass: breakGlass)
        }
        return NewAuditEvent(
            type: type, subject: id.uuidString.lowercased(), severity: routing.severity, channels: routing.channels,
            data: data)
    }

    /// The event that follows a transition's action, if any.
    func event(for action: AccessRequestState.Action, ttl: Int?) -> NewAuditEvent? {
        switch action {
        case .approve(_, let pickupDeadline, let rule, let assignment):
            var extra: [String: JSONValue] = ["pickup_deadline": .string(AuditTime.format(pickupDeadline))]
            if let rule { extra["approval_rule"] = .string(rule) }
            if !assignment.isEmpty { extra["approvers"] = .object(assignment.mapValues(\.stored)) }
            return event("airlock.access.approved", ttl: ttl, extra: extra)
        case .deny(let reviewer):
            return event("airlock.access.denied", ttl: nil, extra: reviewer.map { ["reviewer": .string($0)] } ?? [:])
        case .expire(let reason):
            return event("airlock.access.expired", ttl: ttl, extra: ["reason": .string(reason.rawValue)])
        case .recordReview:
            return event("airlock.access.reviewed", ttl: ttl)
        case .revoke:
            return event("airlock.access.revoked", ttl: ttl)
        case .awaitApproval, .issue, .confirm, .none:
            return nil
        }
    }
}
