import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// Leases for their owners and admins: reading, renewing, revoking one, and revoke-all.
public struct Leases: Sendable {
    public let decider: AccessDecider
    public let requests: AccessRequestStore
    public let store: LeaseStore
    public let providers: CredentialProviders
    public let revocation: CredentialRevocation

    public init(
        decider: AccessDecider, requests: AccessRequestStore, store: LeaseStore, providers: CredentialProviders,
        revocation: CredentialRevocation
    ) {
        self.decider = decider
        self.requests = requests
        self.store = store
        self.providers = providers
        self.revocation = revocation
    }

    /// The lease `id`, if `viewer` may see it: its owner, auditors and admins.
    public func show(_ id: UUID, to viewer: Principal) async throws -> LeaseRecord {
        guard let lease = try await store.get(id), Self.maySee(lease, viewer) else {
            throw BrokerError.notFound("no such lease")
        }
        return Self.shown(lease, to: viewer)
    }

    /// The viewer's leases, newest first, `limit` (1 to ``LeaseStore/maximumPageSize``) at a time after the lease
    /// `cursor` (the `nextCursor` of the previous page); auditors and admins see everyone's.
    public func list(
        for viewer: Principal, limit: Int = 100, cursor: UUID? = nil
    ) async throws -> (items: [LeaseRecord], nextCursor: UUID?) {
        guard (1...LeaseStore.maximumPageSize).contains(limit) else {
            throw BrokerError.invalidInput("`limit` must be between 1 and \(LeaseStore.maximumPageSize)")
        }
        if !Self.isOperator(viewer) { try viewer.requireActingAsPrincipal() }
        let page = try await store.list(principal: Self.isOperator(viewer) ? nil : viewer.id, limit: limit, after: cursor)
        return (page.items.map { Self.shown($0, to: viewer) }, page.nextCursor)
    }

    /// Ends the lease `id` now (its owner or an admin): the credential is removed before this returns, or the
    /// lease is left `revoking` with its error and retried in the background. When another worker is removing it
    /// already, its outcome is waited for (at most ``otherWorkerWait``). An ended lease is returned as it is.
    public func revoke(_ id: UUID, by caller: Principal) async throws -> LeaseRecord {
        let lease = try await show(id, to: caller)
        guard caller.owns(lease.principalID) || caller.has(scope: "admin") else {
            throw BrokerError.forbidden("only the lease's owner or an admin may revoke it")
        }
        var state = lease.state
        let reason = "revoked by \(caller.id)"
        // An ended lease stays as it is; an active, issuing or revoking one has its credential removed now (marking
        // changes only an active or issuing one: a revoking lease is marked already).
        if case .removeCredential? = try? state.apply(.revoke(reason: reason, at: decider.clock.now())) {
            _ = try await revocation.store.markForRevocation(ids: [id], reason: reason)
            if try await revocation.revokeDue(ids: [id]) == 0 {
                // Another worker claimed it first (the sweep, on this broker or another): its outcome is the answer.
                try await awaitOtherWorkers(ids: [id])
            }
        }
        guard let after = try await store.get(id) else { throw BrokerError.notFound("no such lease") }
        return Self.shown(after, to: caller)
    }

    /// How long a revoke waits for leases another worker claimed first, polled every 25 ms; those still being
    /// removed after that are shown `revoking` (and finish in the background).
    static let otherWorkerWait: Duration = .seconds(10)

    /// Waits until none of `ids` is `revoking` without an error (removed, or failed and left to its retries), or
    /// ``otherWorkerWait`` has passed.
    private func awaitOtherWorkers(ids: [UUID]) async throws {
        let deadline = ContinuousClock.now + Self.otherWorkerWait
        var waiting = ids
        while !waiting.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(25))
            var still: [UUID] = []
            for id in waiting {
                if let lease = try await store.get(id), lease.status == .revoking, lease.lastError == nil { still.append(id) }
            }
            waiting = still
        }
    }

    /// Ends every lease of `principal` now and closes their open requests (admins): the kill switch.
    ///
    /// First every pending and approved request of the principal closes as `revoked` (with
    /// `airlock.access.revoked` each), so nothing approved before can be picked up and nothing pending approved
    /// after; then every active or issuing lease is marked and its credential removed before this returns (an
    /// issuance racing this cannot activate: its request is no longer approved, and its lease is marked). `principal`
    /// is any principal id, exactly as Airlock shows it (the route percent-decodes the path).
    public func revokeAll(of principal: String, by caller: Principal) async throws -> KillSwitchOutcome {
        guard caller.has(scope: "admin") else {
            throw BrokerError.forbidden("revoke-all needs a token with the `admin` scope")
        }
        // PostgreSQL text cannot hold U+0000, so no principal has it in its id.
        guard !principal.isEmpty, principal.utf8.count <= 256, !principal.unicodeScalars.contains("\u{0}") else {
            throw BrokerError.notFound("no such principal")
        }
        let reason = AlertRouting.killSwitchReason(by: caller.id)
        let closed = try await requests.revokeOpen(of: principal, by: caller.id, reason: reason)
        let marked = try await revocation.store.markForRevocation(principal: principal, reason: reason)
        if !marked.isEmpty, try await revocation.revokeDue(ids: marked, limit: marked.count) < marked.count {
            try await awaitOtherWorkers(ids: marked)
        }
        var ended: [LeaseRecord] = []
        for id in marked { if let lease = try await store.get(id) { ended.append(Self.shown(lease, to: caller)) } }
        return KillSwitchOutcome(principal: principal, leases: ended, closedRequests: closed)
    }

    /// Extends the owner's active lease to now + `ttlSeconds`, never past issue time + what may be granted.
    ///
    /// The policy decides again, with the owner as they are now (groups, MFA age, on-call, manager) and the original
    /// request without its TTL, which yields the rule's cap. A renewal the policy now denies is
    /// ``BrokerError/policyDenied(_:)``. A lease whose request people approved never goes past the TTL they
    /// approved, counted from issue (nor past the rule's cap now), and only while the approvals given still meet the
    /// approval rules that apply now: approvers approve a duration, and more time is a new request they see. A
    /// lease the policy permitted outright may go up to the rule's cap from issue. The credential's own expiry moves
    /// first (the provider's `extend`), then the lease (and its token's expiry), with `airlock.lease.renewed`.
    public func renew(_ id: UUID, by principal: Principal, ttlSeconds: Int64) async throws -> LeaseRecord {
        try decider.checkTTL(ttlSeconds)
        try principal.requireActingAsPrincipal()
        guard let lease = try await store.get(id), principal.owns(lease.principalID) else {
            throw BrokerError.notFound("no such lease")
        }
        guard lease.status == .active, lease.issuedAt != nil else {
            throw BrokerError.closed("the lease is \(lease.status.rawValue), not active")
        }
        guard let original = try await requests.get(lease.requestID), let resource = decider.catalog[lease.resourceID],
              let provider = providers.provider(for: resource) else {
            throw BrokerError.resourceNoLongerConfigured
        }
        let cap = min(try await decideCap(principal: principal, resource: resource, original: original),
                      decider.maximumTTLSeconds)
        let now = decider.clock.now()
        // Counted from the pickup that began the lease, as its first expiry was.
        let maximum = lease.createdAt.addingTimeInterval(TimeInterval(cap))
        var state = lease.state
        let action: LeaseState.Action
        do {
            action = try state.apply(.renew(until: now.addingTimeInterval(TimeInterval(ttlSeconds)), cap: maximum, at: now))
        } catch {
            throw BrokerError.closed(error.message)
        }
        guard case .extendCredential(let until) = action else { return lease }
        do {
            try await provider.extend(lease.credential, on: resource, until: until)
        } catch {
            throw BrokerError.renewalFailed("the target refused the renewal")
        }
        guard try await store.renew(id, to: until, max: maximum, by: principal.id) else {
            throw BrokerError.closed("the lease ended while it was being renewed")
        }
        guard let renewed = try await store.get(id) else { throw BrokerError.notFound("no such lease") }
        return renewed
    }

    /// The TTL cap the policy grants this lease now, or ``BrokerError/policyDenied(_:)``.
    private func decideCap(principal: Principal, resource: Resource, original: AccessRequestRecord) async throws -> Int64 {
        let ask = Ask(
            resource: resource.id, role: original.role, ttlSeconds: Int64(original.ttlSeconds), reason: original.reason,
            ticket: original.ticket, breakGlass: original.breakGlass, sourceIP: original.sourceIP)
        let input = await decider.input(principal: principal, resource: resource, ask: ask, includingTTL: false)
        let decided = try decider.decide(input)
        let refusal = BrokerError.policyDenied(PolicyRefusal(
            message: "the policy does not permit renewing this lease now", decision: decided.decision,
            explanation: decided.explanation))
        guard let ruleCap = decided.decision.ttlSeconds, ruleCap > 0 else { throw refusal }
        guard Self.stillGrants(decided.decision, original: original) else {
            guard original.decision.outcome == .pendingApproval, decided.decision.outcome == .pendingApproval else {
                throw refusal
            }
            throw BrokerError.policyDenied(PolicyRefusal(
                message: "the approvals given do not meet the approval rules that apply now; ask again",
                decision: decided.decision))
        }
        // Permitted outright: the rule's cap. Approved by people: never past what they approved either.
        guard original.decision.outcome == .pendingApproval else { return ruleCap }
        guard let approved = original.grantedTTLSeconds, approved > 0 else { throw refusal }
        return min(ruleCap, Int64(approved))
    }

    /// Whether `current` (the policy's decision now, without a TTL) still grants what `original` was granted: a
    /// request the policy permitted outright needs a permit now; one people approved needs a permit, or approval
    /// rules that the approvals given still meet. Renewal and continuous evaluation both ask this.
    static func stillGrants(_ current: Decision, original: AccessRequestRecord) -> Bool {
        switch current.outcome {
        case .permit:
            return true
        case .deny:
            return false
        case .pendingApproval:
            guard original.decision.outcome == .pendingApproval else { return false }
            let state = original.state()
            return ApprovalMatcher.satisfiedRule(
                current.approvals, approvers: state.approvers, requester: original.principalID) != nil
        }
    }

    static func maySee(_ lease: LeaseRecord, _ viewer: Principal) -> Bool {
        viewer.owns(lease.principalID) || isOperator(viewer)
    }

    static func isOperator(_ viewer: Principal) -> Bool {
        viewer.has(scope: "auditor") || viewer.has(scope: "admin")
    }

    /// What a lease's owner is told when its revocation (or issuance) failed: the error itself may name the
    /// target's host and admin user, which is for operators (auditors, admins, the log and the audit chain).
    public static let failureForOwners = "the last attempt failed; it is retried (operators see the detail in the audit log)"

    /// `lease` as `viewer` may see it: operators see `last_error` itself, owners only that there was one.
    static func shown(_ lease: LeaseRecord, to viewer: Principal) -> LeaseRecord {
        guard !isOperator(viewer), lease.lastError != nil else { return lease }
        var redacted = lease
        redacted.lastError = failureForOwners
        return redacted
    }
}

/// What the kill switch did: the leases it ended and the requests it closed.
public struct KillSwitchOutcome: Sendable {
    /// The principal id, as given.
    public var principal: String
    /// The leases ended by this call (others had ended before).
    public var leases: [LeaseRecord]
    /// The pending and approved requests closed as `revoked`.
    public var closedRequests: [ClosedRequest]
}

extension LeaseRecord {
    /// The lease as its state machine sees it.
    public var state: LeaseState {
        LeaseState(status: status, issuedAt: issuedAt, expiresAt: expiresAt, endedAt: revokedAt)
    }

    /// What the lease records of its credential.
    public var credential: LeaseCredential { LeaseCredential(leaseID: id, username: username, tokenID: tokenID) }
}
