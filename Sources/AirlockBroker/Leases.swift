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
        return lease
    }

    /// The viewer's leases, newest first; auditors and admins see everyone's.
    public func list(for viewer: Principal) async throws -> [LeaseRecord] {
        let everyone = viewer.has(scope: "auditor") || viewer.has(scope: "admin")
        if !everyone { try viewer.requireActingAsPrincipal() }
        return try await store.list(principal: everyone ? nil : viewer.id)
    }

    /// Ends the lease `id` now (its owner or an admin): the credential is removed before this returns, or the
    /// lease is left `revoking` with its error and retried in the background. An ended lease is returned as it is.
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
            try await revocation.revokeDue(ids: [id])
        }
        guard let after = try await store.get(id) else { throw BrokerError.notFound("no such lease") }
        return after
    }

    /// Ends every lease of `principal` now (admins): the kill switch. Returns the leases it ended.
    public func revokeAll(of principal: String, by caller: Principal) async throws -> [LeaseRecord] {
        guard caller.has(scope: "admin") else {
            throw BrokerError.forbidden("revoke-all needs a token with the `admin` scope")
        }
        guard !principal.isEmpty, principal.utf8.count <= 256 else { throw BrokerError.notFound("no such principal") }
        let marked = try await revocation.store.markForRevocation(
            principal: principal, reason: "revoke-all by \(caller.id)")
        if !marked.isEmpty { try await revocation.revokeDue(ids: marked, limit: marked.count) }
        var ended: [LeaseRecord] = []
        for id in marked { if let lease = try await store.get(id) { ended.append(lease) } }
        return ended
    }

    /// Extends the owner's active lease to now + `ttlSeconds`, never past issue time + the rule's cap.
    ///
    /// The policy decides again, with the owner as they are now (groups, MFA age, on-call) and the original
    /// request without its TTL, which yields the rule's cap. A renewal the policy now denies is
    /// ``BrokerError/policyDenied(_:)``; one that needs approval is allowed only when the original request was
    /// approved by people (their approval covered the rule's cap). The credential's own expiry moves first (the
    /// provider's `extend`), then the lease (and its token's expiry), with `airlock.lease.renewed`.
    public func renew(_ id: UUID, by principal: Principal, ttlSeconds: Int64) async throws -> LeaseRecord {
        try decider.checkTTL(ttlSeconds)
        try principal.requireActingAsPrincipal()
        guard let lease = try await store.get(id), principal.owns(lease.principalID) else {
            throw BrokerError.notFound("no such lease")
        }
        guard lease.status == .active, let issuedAt = lease.issuedAt else {
            throw BrokerError.closed("the lease is \(lease.status.rawValue), not active")
        }
        guard let original = try await requests.get(lease.requestID), let resource = decider.catalog[lease.resourceID],
              let provider = providers.provider(for: resource) else {
            throw BrokerError.resourceNoLongerConfigured
        }
        let cap = min(try await decideCap(principal: principal, resource: resource, original: original),
                      decider.maximumTTLSeconds)
        let now = decider.clock.now()
        let maximum = issuedAt.addingTimeInterval(TimeInterval(cap))
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
        let approvedByPeople = original.decision.outcome == .pendingApproval
        switch decided.decision.outcome {
        case .permit where decided.decision.ttlSeconds != nil:
            return decided.decision.ttlSeconds ?? 0
        case .pendingApproval where approvedByPeople && decided.decision.ttlSeconds != nil:
            return decided.decision.ttlSeconds ?? 0
        default:
            throw BrokerError.policyDenied(PolicyRefusal(
                message: "the policy does not permit renewing this lease now", decision: decided.decision,
                explanation: decided.explanation))
        }
    }

    static func maySee(_ lease: LeaseRecord, _ viewer: Principal) -> Bool {
        viewer.owns(lease.principalID) || viewer.has(scope: "auditor") || viewer.has(scope: "admin")
    }
}

extension LeaseRecord {
    /// The lease as its state machine sees it.
    public var state: LeaseState {
        LeaseState(status: status, issuedAt: issuedAt, expiresAt: expiresAt, endedAt: revokedAt)
    }

    /// What the lease records of its credential.
    public var credential: LeaseCredential { LeaseCredential(leaseID: id, username: username, tokenID: tokenID) }
}
