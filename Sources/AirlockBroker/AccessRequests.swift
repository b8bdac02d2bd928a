import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// An ask as recorded: its id, the decision and the status it gives.
public struct RecordedAsk: Sendable {
    public var id: UUID
    public var decision: Decision
    public var explanation: Explanation?
    /// The status the decision gives (`approved`, `pending_approval` or `denied`).
    public var status: AccessRequestState.Status
    /// Who may approve it, when pending.
    public var approvers: ApproverRoster?
    /// The risk assessment the decision read.
    public var risk: RiskAssessment = .none
}

/// Who may approve a request: per applying approval rule, what is required and who has approved, and the members
/// Airlock knows of in each group (people who approved as members of it before).
public struct ApproverRoster: Sendable, Hashable {
    public var progress: [ApprovalProgress]
    public var knownMembers: [String: [String]]

    /// Who may meet `requirement`: the group's known members, or the one principal a user requirement names
    /// (nobody when the requirement can never be met).
    public func mayMeet(_ requirement: ApprovalProgress.Requirement) -> [String] {
        guard requirement.unmeetable == nil else { return [] }
        switch requirement.requirement.approvers {
        case .group(let group): return knownMembers[group] ?? []
        case .user(let id): return [id]
        }
    }
}

/// A request with who may still approve it (when pending).
public struct RequestView: Sendable {
    public var record: AccessRequestRecord
    public var approvers: ApproverRoster?
    /// What an approver needs to judge it beside its risk (pending requests).
    public var context: ApproverContext?
}

/// How recent an approver's second factor must be for them to approve access to a resource of one of
/// `environments` (`resource.env`): the settings `approvals.mfa_max_age_seconds` and `approvals.mfa_environments`.
public struct ApprovalMFARequirement: Sendable, Hashable {
    public var maximumAgeSeconds: Int64
    public var environments: Set<String>

    public init(maximumAgeSeconds: Int64, environments: Set<String> = ["prod"]) {
        self.maximumAgeSeconds = maximumAgeSeconds
        self.environments = environments
    }
}

/// Asking, deciding and reviewing: records asks with their decision and audit events (one statement), answers
/// what-if questions, and takes approvers' verdicts.
public struct AccessRequests: Sendable {
    public let decider: AccessDecider
    public let store: AccessRequestStore
    /// A second factor an approver must have proven recently to approve access to some environments; nil: none.
    public let approvalMFA: ApprovalMFARequirement?

    public init(decider: AccessDecider, store: AccessRequestStore, approvalMFA: ApprovalMFARequirement? = nil) {
        self.decider = decider
        self.store = store
        self.approvalMFA = approvalMFA
    }

    /// Checks and decides `ask` for `principal` and records the request with its audit events.
    public func ask(_ ask: Ask, by principal: Principal) async throws -> RecordedAsk {
        try principal.requireActingAsPrincipal()
        let resource = try decider.validate(ask)
        let input = await decider.input(principal: principal, resource: resource, ask: ask)
        let decided = try decider.decide(input)
        let id = try await store.createReturningID(
            NewAccessRequest(principal: principal, ask: ask),
            resource: resource, decision: decided.decision, evaluationInput: input.stored,
            policySetID: decided.policySetID, risk: decided.risk)
        var recorded = RecordedAsk(
            id: id, decision: decided.decision, explanation: decided.explanation,
            status: Self.status(of: decided.decision), approvers: nil, risk: decided.risk)
        // Only a pending request needs reading back (for its approvers).
        if recorded.status == .pendingApproval, let record = try await store.get(id) {
            recorded.status = record.status
            recorded.approvers = try await roster(record.approvalProgress)
        }
        return recorded
    }

    /// What the active policy set would decide for `principal` asking `ask`, with the explanation for every
    /// outcome and, when pending, who may approve. Records nothing.
    public func whatIf(_ ask: Ask, for principal: Principal) async throws -> (DecidedAsk, ApproverRoster?) {
        try principal.requireActingAsPrincipal()
        let resource = try decider.validate(ask)
        let input = await decider.input(principal: principal, resource: resource, ask: ask)
        let decided = try decider.decide(input, explainAlways: true)
        guard decided.decision.outcome == .pendingApproval else { return (decided, nil) }
        let progress = ApprovalMatcher.progress(decided.decision.approvals, approvers: [], requester: principal.id)
        return (decided, try await roster(progress))
    }

    /// The request `id`, if `viewer` may see it: its requester, someone who may approve it, auditors and admins.
    public func show(_ id: UUID, to viewer: Principal) async throws -> RequestView {
        guard let record = try await store.get(id), Self.maySee(record, viewer) else {
            throw BrokerError.notFound("no such access request")
        }
        return try await view(record)
    }

    /// Whether `viewer` may see the request: its requester, someone in a group one of its approval rules names,
    /// auditors and admins. Everyone else is answered as if it did not exist, whatever they ask of it.
    static func maySee(_ record: AccessRequestRecord, _ viewer: Principal) -> Bool {
        let mayApprove = viewer.actsAsPrincipal
            && ApprovalMatcher.isEligible(Approver(viewer), for: record.decision.approvals)
        return viewer.owns(record.principalID) || mayApprove || viewer.has(scope: "auditor")
            || viewer.has(scope: "admin")
    }

    /// `status` requests: the caller's own (`mine`), or those the caller may review, oldest first, a page at a time.
    /// Of pending requests, a reviewer sees those their approval would count toward (a requirement they may meet is
    /// still unmet); a page may then hold fewer items than the store's, and `nextCursor` still continues after it.
    public func list(
        for principal: Principal, status: AccessRequestState.Status, mine: Bool, after: UUID?
    ) async throws -> (items: [RequestView], nextCursor: UUID?) {
        try principal.requireActingAsPrincipal()
        let page = try await store.list(
            principal: mine ? principal.id : nil, status: status, reviewableBy: mine ? nil : principal, after: after)
        var items: [RequestView] = []
        for record in page.items {
            if !mine, record.status == .pendingApproval, !record.wouldAdvance(by: Approver(principal)) { continue }
            items.append(try await view(record))
        }
        return (items, page.nextCursor)
    }

    /// Records `reviewer`'s verdict on request `id`. A person who may not see the request is told they are not
    /// among its approvers (``BrokerError/notAnApprover(_:)``), in words that do not depend on its state; a
    /// service that may not see it gets ``BrokerError/notFound(_:)``, as reading it answers. Neither learns its
    /// status.
    public func review(
        _ id: UUID, by reviewer: Principal, verdict: AccessRequestState.Verdict, comment: String,
        reliedOn: [ApprovalEvidence] = []
    ) async throws -> RequestView {
        try reviewer.requireActingAsPrincipal()
        if let problem = FreeText.problem(in: comment, field: "comment", multiline: true) {
            throw BrokerError.invalidInput(problem)
        }
        guard let seen = try await store.get(id) else { throw BrokerError.notFound("no such access request") }
        guard Self.maySee(seen, reviewer) else {
            guard reviewer.kind == .user else { throw BrokerError.notFound("no such access request") }
            throw BrokerError.notAnApprover(
                "`\(BrokerError.shown(reviewer.id))` is not among the approvers of this request: only members of its "
                    + "approving groups and the people its rules name may review it")
        }
        // Checked before the store is touched, so a refusal records nothing.
        if verdict == .approve, let refusal = freshMFARefusal(resourceID: seen.resourceID, approver: reviewer) {
            throw refusal
        }
        do {
            return try await view(try await store.review(
                id, by: reviewer, verdict: verdict, comment: comment, reliedOn: reliedOn))
        } catch let error as AccessRequestError {
            throw BrokerError(error)
        } catch let error as StoreError where error.code == "not_found" {
            throw BrokerError.notFound("no such access request")
        }
    }

    /// Why `approver` may not approve access to `resourceID` for want of a recent second factor, if that is so:
    /// a session alone (a stolen laptop, a token copied from it) must not be enough to let someone into production.
    /// Services approving (`including services`) have no second factor and are not asked for one.
    public func freshMFARefusal(resourceID: String, approver: Principal) -> BrokerError? {
        guard let approvalMFA, approver.kind == .user, let environment = decider.catalog[resourceID]?.env,
              approvalMFA.environments.contains(environment)
        else { return nil }
        if let age = approver.mfaAgeSeconds, age <= approvalMFA.maximumAgeSeconds { return nil }
        return .freshMFARequired(
            environment: environment, maximumSeconds: approvalMFA.maximumAgeSeconds, ageSeconds: approver.mfaAgeSeconds)
    }

    func view(_ record: AccessRequestRecord) async throws -> RequestView {
        guard record.status == .pendingApproval else { return RequestView(record: record, approvers: nil, context: nil) }
        return RequestView(
            record: record, approvers: try await roster(record.approvalProgress),
            context: try await store.approverContext(of: record))
    }

    func roster(_ progress: [ApprovalProgress]) async throws -> ApproverRoster {
        let groups = Array(Set(progress.flatMap { $0.requirements.compactMap(\.requirement.group) })).sorted()
        return ApproverRoster(progress: progress, knownMembers: try await store.knownMembers(of: groups))
    }

    static func status(of decision: Decision) -> AccessRequestState.Status {
        switch decision.outcome {
        case .permit: .approved
        case .pendingApproval: .pendingApproval
        case .deny: .denied
        }
    }
}
