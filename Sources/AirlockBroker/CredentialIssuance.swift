import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// A credential handed to its owner: once, never stored.
public struct IssuedCredential: Sendable {
    /// The kind of resource it is for.
    public var kind: Resource.Kind
    /// The access request it was issued for.
    public var accessRequestID: UUID
    public var credential: MintedCredential
}

/// Issuing at pickup and in one call, intent first: the lease row is written (claiming the request) before
/// anything exists on the target; the resource's provider mints; the lease becomes active and the request issued.
/// A mint that fails hands the lease to revocation, so no credential exists that Airlock does not know about.
public struct CredentialIssuance: Sendable {
    public let requests: AccessRequests
    public let leases: LeaseStore
    public let providers: CredentialProviders
    let logger: Logger
    /// The resources whose credentials this broker can issue, with their kinds (indexed once).
    private let issuable: [String: Resource.Kind]

    public init(requests: AccessRequests, leases: LeaseStore, providers: CredentialProviders, logger: Logger) {
        self.requests = requests
        self.leases = leases
        self.providers = providers
        self.logger = logger
        self.issuable = providers.issuable(in: requests.decider.catalog)
    }

    /// Picks up the credential of request `requestID` for `principal` (calling from `sourceIP`, when known).
    ///
    /// Only the requester may: for anyone else the request does not exist (``BrokerError/notFound(_:)``, as
    /// reading it answers). The policy set in force now decides the request again, with `principal` as they are
    /// now (their current groups, MFA age, on-call, manager) and this call's source address, hour and risk (see
    /// ``redecide(_:for:sourceIP:)``): a policy change or a lost group reaches an approved request before its
    /// credential exists.
    public func pickUp(_ requestID: UUID, by principal: Principal, sourceIP: String? = nil) async throws -> IssuedCredential {
        try principal.requireActingAsPrincipal()
        guard let record = try await requests.store.get(requestID), Principal.sameID(record.principalID, principal.id) else {
            throw BrokerError.notFound("no such access request")
        }
        let ttl = try await redecide(record, for: principal, sourceIP: sourceIP)
        return try await issue(requestID, by: principal, ttlCap: ttl)
    }

    /// The TTL a pickup of `record` may grant now: the request's granted TTL, never more than what the policy set
    /// in force now grants `principal` asking the same (their current attributes, `sourceIP`, now's hour and
    /// risk). The approval stands when that decision permits, or requires approval and the reviews already given
    /// meet one of the approval rules that apply now (so a stricter rule added since the approval is not bypassed).
    /// Anything else closes the request as `denied` (`airlock.access.denied`, reason `redecided_at_pickup`) and is
    /// ``BrokerError/policyDenied(_:)`` with the current decision: more access is a new request.
    ///
    /// A request that cannot be picked up fails first, as the pickup always has (`not_approved`,
    /// `already_retrieved`, `request_closed`).
    func redecide(_ record: AccessRequestRecord, for principal: Principal, sourceIP: String?) async throws -> Int64 {
        let decider = requests.decider
        var state = record.state(windows: requests.store.windows)
        do {
            var probe = state
            _ = try probe.apply(.pickUp(at: decider.clock.now()))
        } catch {
            throw BrokerError(error)
        }
        guard let resource = decider.catalog[record.resourceID], resource.roles[record.role] != nil else {
            throw BrokerError.resourceNoLongerConfigured
        }
        let ask = Ask(
            resource: resource.id, role: record.role, ttlSeconds: Int64(record.ttlSeconds), reason: record.reason,
            ticket: record.ticket, breakGlass: record.breakGlass, sourceIP: sourceIP)
        let input = await decider.input(principal: principal, resource: resource, ask: ask)
        let decided = try decider.decide(input)
        var action: AccessRequestState.Action
        do {
            action = try state.apply(.redecided(decided.decision, at: decider.clock.now()))
            if case .deny = action {
                // Closed under the row lock (the status is checked again there), with its audit event.
                action = try await requests.store.redecide(
                    record.id, decision: decided.decision, policySetID: decided.policySetID)
            }
        } catch let error as AccessRequestError {
            throw BrokerError(error)
        } catch let error as StoreError where error.code == "not_found" {
            throw BrokerError.notFound("no such access request")
        }
        if case .confirm(let ttl) = action { return ttl }
        logger.notice("pickup refused: the current policy no longer grants the request; it is closed", metadata: [
            "request_id": "\(record.id)", "decision": "\(decided.decision.outcome.rawValue)",
            "policy_set_id": "\(decided.policySetID)",
        ])
        let message = decided.decision.outcome == .pendingApproval
            ? "the approvals given do not meet the approval rules that apply now; the request is closed (ask again)"
            : "the policy no longer permits this request; it is closed"
        throw BrokerError.policyDenied(PolicyRefusal(
            message: message, decision: decided.decision, explanation: decided.explanation,
            accessRequestID: record.id, status: .denied))
    }

    /// Begins the lease of request `requestID` (at most `ttlCap` seconds, when given), mints through the resource's
    /// provider and activates. A target that refuses answers a generic ``BrokerError/issuanceFailed(_:atTarget:)``:
    /// its detail (which may name the target's host and admin user) goes to the log and to
    /// `airlock.credential.issuance_failed`, for operators, never to the requester.
    private func issue(_ requestID: UUID, by principal: Principal, ttlCap: Int64?) async throws -> IssuedCredential {
        let catalog = requests.decider.catalog
        let intent: LeaseIntent
        do {
            intent = try await leases.begin(requestID, by: principal, issuable: issuable, ttlCap: ttlCap)
        } catch let error as AccessRequestError {
            throw BrokerError(error)
        } catch let error as StoreError where error.code == "not_found" {
            throw BrokerError.notFound("no such access request")
        } catch let error as StoreError where error.code == "not_issuable" {
            throw BrokerError.resourceNoLongerConfigured
        }
        guard let resource = catalog[intent.resourceID], let provider = providers.provider(for: resource) else {
            try? await leases.abandon(intent.lease, error: "the resource is no longer configured")
            throw BrokerError.resourceNoLongerConfigured
        }
        let minted: MintedCredential
        do {
            minted = try await provider.mint(MintRequest(
                resource: resource, role: intent.role, leaseID: intent.lease, subject: principal.id,
                expiresAt: intent.expiresAt))
        } catch {
            let reason = (error as? ProviderError)?.message ?? "the target refused the credential"
            try? await leases.abandon(intent.lease, error: reason)
            logger.error("credential issuance failed", metadata: [
                "lease_id": "\(intent.lease)", "resource": "\(resource.id)", "error": "\(reason)",
            ])
            throw BrokerError.issuanceFailed(
                "the target did not issue the credential; try again later, or ask an operator (lease "
                    + "\(intent.lease.uuidString.lowercased()))", atTarget: true)
        }
        do {
            try await leases.activate(intent, credential: minted)
        } catch {
            // The lease may already be ending (revoke-all while this was minting): remove the credential here, and
            // hand the lease to revocation as well (idempotent), so it cannot outlive the lease either way.
            _ = try? await provider.revoke(minted.recorded, on: resource)
            try? await leases.abandon(intent.lease, username: minted.username,
                                      error: "activation failed after the credential was created")
            logger.error("credential activation failed; the credential goes to revocation", metadata: [
                "lease_id": "\(intent.lease)", "resource": "\(resource.id)",
            ])
            throw BrokerError.issuanceFailed(
                "the credential was created but could not be recorded; it will be revoked", atTarget: false)
        }
        return IssuedCredential(kind: resource.kind, accessRequestID: requestID, credential: minted)
    }

    /// Asks and picks up in one call (services and CI jobs): the ask is recorded and audited exactly like any
    /// other; when the policy permits at once, the credential is picked up in the same call. Otherwise
    /// ``BrokerError/policyDenied(_:)`` with the decision; a pending request stays pending (an approver may still
    /// approve it, and its requester pick it up).
    public func issueNow(_ ask: Ask, by principal: Principal) async throws -> IssuedCredential {
        let recorded = try await requests.ask(ask, by: principal)
        guard recorded.decision.outcome == .permit else {
            let message = recorded.decision.outcome == .deny
                ? "the policy denies this request"
                : "the policy requires approval; the request \(recorded.id.uuidString.lowercased()) is pending"
            throw BrokerError.policyDenied(PolicyRefusal(
                message: message, decision: recorded.decision, explanation: recorded.explanation,
                accessRequestID: recorded.id, status: recorded.status))
        }
        // Just decided under the policy set in force: no second decision.
        return try await issue(recorded.id, by: principal, ttlCap: nil)
    }
}
