import AirlockPolicy
import Foundation

extension AccessRequestState {
    /// What happens to a request. Times travel with the events: the machine reads no clock.
    public enum Event: Sendable, Hashable {
        /// The policy decided (the first event of every request).
        case decided(Decision, at: Date)
        /// A reviewer (a person, or a service where a requirement includes services) approves, holding `groups`.
        case approve(by: String, kind: Principal.Kind, groups: Set<String>, at: Date)
        /// A reviewer denies, holding `groups`.
        case deny(by: String, kind: Principal.Kind, groups: Set<String>, at: Date)
        /// The requester picks the credential up (it is minted now).
        case pickUp(at: Date)
        /// The requester is about to pick the credential up and the policy has decided the request again:
        /// `decision` is what the policy set in force now decides, with the requester as they are now. The
        /// approval stands only when that decision still grants the request (see ``Action/confirm(ttlSeconds:)``);
        /// otherwise the request closes as denied.
        case redecided(Decision, at: Date)
        /// The kill switch (revoke-all of the requester): a pending or approved request closes as revoked.
        case revoke(at: Date)
        /// The expiry sweep looks at the request at `now`.
        case expire(now: Date)
    }

    /// What the I/O layer must do after an event (each with the audit event named).
    public enum Action: Sendable, Hashable {
        /// Store the request as pending until `deadline` (`airlock.access.requested`).
        case awaitApproval(deadline: Date)
        /// Store the approval and the request as approved: the credential is granted for `ttlSeconds` and may be
        /// picked up until `pickupDeadline`. `rule` names the approval rule that was met (nil when the policy
        /// permitted outright) and `assignment` which approver counted toward which requirement
        /// (`airlock.access.approved`).
        case approve(ttlSeconds: Int64, pickupDeadline: Date, rule: String?, assignment: [String: ApprovalRequirement])
        /// Store the review; the request stays pending (`airlock.access.reviewed`).
        case recordReview
        /// Close the request as denied; `reviewer` is nil for a policy denial (`airlock.access.denied`).
        case deny(reviewer: String?)
        /// Mint the credential for `ttlSeconds`, write the lease, mark the request issued.
        case issue(ttlSeconds: Int64)
        /// The approval stands under the current decision: pick up for `ttlSeconds`, the granted TTL lowered to what
        /// the current decision grants. Nothing is written.
        case confirm(ttlSeconds: Int64)
        /// Close the request as revoked (`airlock.access.revoked`).
        case revoke
        /// Close the request as expired (`airlock.access.expired`).
        case expire(ExpiryReason)
        /// Nothing is due.
        case none
    }

    /// Applies `event`, returning what to do. On error the state is unchanged.
    @discardableResult
    public mutating func apply(_ event: Event) throws(AccessRequestError) -> Action {
        switch event {
        case .decided(let decision, let at): return try decide(decision, at: at)
        case .approve(let reviewer, let kind, let groups, let at):
            return try review(Approver(id: reviewer, kind: kind, groups: groups), .approve, at: at)
        case .deny(let reviewer, let kind, let groups, let at):
            return try review(Approver(id: reviewer, kind: kind, groups: groups), .deny, at: at)
        case .pickUp(let at): return try pickUp(at: at)
        case .redecided(let decision, let at): return try redecide(decision, at: at)
        case .revoke(let at): return revoke(at: at)
        case .expire(let now): return expire(now: now)
        }
    }

    private mutating func decide(_ decision: Decision, at: Date) throws(AccessRequestError) -> Action {
        guard status == .requested else {
            throw AccessRequestError(.invalidTransition, "the request is already decided")
        }
        self.decision = decision
        switch decision.outcome {
        case .deny:
            return close(as: .denied, at: at, action: .deny(reviewer: nil))
        case .permit:
            // Fail closed: a permit without a positive TTL grants nothing.
            guard let ttl = decision.ttlSeconds, ttl > 0 else {
                return close(as: .denied, at: at, action: .deny(reviewer: nil))
            }
            return markApproved(ttl: ttl, at: at, rule: nil, assignment: [:])
        case .pendingApproval:
            guard let ttl = decision.ttlSeconds, ttl > 0, !decision.approvals.isEmpty else {
                return close(as: .denied, at: at, action: .deny(reviewer: nil))
            }
            grantedTTLSeconds = ttl
            status = .pendingApproval
            let deadline = at.addingTimeInterval(windows.decision)
            decisionDeadline = deadline
            return .awaitApproval(deadline: deadline)
        }
    }

    private mutating func review(
        _ approver: Approver, _ verdict: Verdict, at: Date
    ) throws(AccessRequestError) -> Action {
        let reviewer = approver.id
        guard status == .pendingApproval else {
            throw AccessRequestError(.requestClosed, "the request is \(status.rawValue), not pending approval")
        }
        if let deadline = decisionDeadline, at >= deadline {
            throw AccessRequestError(.requestClosed, "the request expired before it was decided")
        }
        // Principal ids are compared byte for byte: a canonically equivalent id is another principal.
        guard !Principal.sameID(reviewer, requester) else {
            throw AccessRequestError(.selfApproval, "a requester cannot review their own request")
        }
        guard !reviews.contains(where: { Principal.sameID($0.reviewer, reviewer) }) else {
            throw AccessRequestError(.alreadyReviewed, "`\(reviewer)` has already reviewed this request")
        }
        // Only people review, except toward a requirement that includes services (`including services`).
        guard ApprovalMatcher.isEligible(approver, for: approvalRules) else {
            let asPerson = Approver(id: reviewer, kind: .user, groups: approver.groups)
            let serviceInGroup = approver.kind == .service && ApprovalMatcher.isEligible(asPerson, for: approvalRules)
            throw AccessRequestError(.notAnApprover, serviceInGroup
                ? "`\(reviewer)` is a service; only people review this request (no requirement includes services)"
                : "`\(reviewer)` is in none of the groups and is none of the people that approve this request")
        }
        // An approval must be able to count: toward a requirement that is still unmet (by a maximum matching, so
        // a member of two groups counts toward whichever one helps).
        guard verdict == .deny || ApprovalMatcher.wouldAdvance(
            approver, rules: approvalRules, approvers: approvers, requester: requester) else {
            throw AccessRequestError(.notAnApprover,
                "`\(reviewer)` can meet no requirement that is still unmet: those are already met by other approvers")
        }
        reviews.append(Review(reviewer: reviewer, kind: approver.kind, groups: approver.groups, verdict: verdict, at: at))
        if verdict == .deny {
            return close(as: .denied, at: at, action: .deny(reviewer: reviewer))
        }
        guard let met = ApprovalMatcher.satisfiedRule(approvalRules, approvers: approvers, requester: requester),
              let ttl = grantedTTLSeconds
        else { return .recordReview }
        return markApproved(ttl: ttl, at: at, rule: met.rule.rule, assignment: met.assignment)
    }

    private mutating func pickUp(at: Date) throws(AccessRequestError) -> Action {
        switch status {
        case .approved:
            if let deadline = pickupDeadline, at >= deadline {
                throw AccessRequestError(.requestClosed, "the credential was not picked up in time")
            }
            guard let ttl = grantedTTLSeconds else {
                throw AccessRequestError(.invalidTransition, "an approved request has no granted ttl")
            }
            status = .issued
            closedAt = at
            return .issue(ttlSeconds: ttl)
        case .requested, .pendingApproval:
            throw AccessRequestError(.notApproved, "the request is not approved yet")
        case .issued:
            throw AccessRequestError(.alreadyRetrieved, "the credential was already retrieved")
        case .denied, .expired, .revoked:
            throw AccessRequestError(.requestClosed, "the request is \(status.rawValue)")
        }
    }

    /// The pickup's re-decision. A request that cannot be picked up fails as the pickup would (`not_approved`,
    /// `already_retrieved`, `request_closed`). Otherwise the approval stands when the current decision permits, or
    /// requires approval and the reviews already given satisfy one of the approval rules that apply now (a stricter
    /// rule added after the approval is not bypassed); the TTL is never more than either decision grants. Anything
    /// else (a deny, a permit without a TTL, approvals the current rules do not accept) closes the request as
    /// denied: more access is a new request.
    private mutating func redecide(_ current: Decision, at: Date) throws(AccessRequestError) -> Action {
        var probe = self
        guard case .issue(let granted) = try probe.pickUp(at: at) else {
            throw AccessRequestError(.invalidTransition, "an approved request has no granted ttl")
        }
        if let ttl = current.ttlSeconds, ttl > 0 {
            switch current.outcome {
            case .permit:
                return .confirm(ttlSeconds: min(granted, ttl))
            case .pendingApproval where ApprovalMatcher.satisfiedRule(
                current.approvals, approvers: approvers, requester: requester) != nil:
                return .confirm(ttlSeconds: min(granted, ttl))
            case .pendingApproval, .deny:
                break
            }
        }
        return close(as: .denied, at: at, action: .deny(reviewer: nil))
    }

    private mutating func revoke(at: Date) -> Action {
        switch status {
        case .pendingApproval, .approved:
            return close(as: .revoked, at: at, action: .revoke)
        case .requested, .issued, .denied, .expired, .revoked:
            return .none
        }
    }

    private mutating func expire(now: Date) -> Action {
        switch status {
        case .pendingApproval:
            guard let deadline = decisionDeadline, now >= deadline else { return .none }
            return close(as: .expired, at: now, action: .expire(.decisionWindow))
        case .approved:
            guard let deadline = pickupDeadline, now >= deadline else { return .none }
            return close(as: .expired, at: now, action: .expire(.pickupWindow))
        case .requested, .issued, .denied, .expired, .revoked:
            return .none
        }
    }

    private mutating func markApproved(
        ttl: Int64, at: Date, rule: String?, assignment: [String: ApprovalRequirement]
    ) -> Action {
        status = .approved
        grantedTTLSeconds = ttl
        decidedAt = at
        let deadline = at.addingTimeInterval(windows.pickup)
        pickupDeadline = deadline
        return .approve(ttlSeconds: ttl, pickupDeadline: deadline, rule: rule, assignment: assignment)
    }

    private mutating func close(as closed: Status, at: Date, action: Action) -> Action {
        status = closed
        if decidedAt == nil { decidedAt = at }
        closedAt = at
        return action
    }
}
