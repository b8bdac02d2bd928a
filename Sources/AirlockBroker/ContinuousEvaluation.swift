import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// What one re-evaluation ended: the leases revoked and the approved requests closed, and why.
public struct ReevaluationOutcome: Sendable, Hashable {
    public var cause: String
    public var revokedLeases: [UUID]
    public var closedRequests: [UUID]

    /// Whether it ended anything.
    public var endedAnything: Bool { !revokedLeases.isEmpty || !closedRequests.isEmpty }
}

/// Continuous evaluation (issue 15, item 5): when a risk signal arrives, when a policy set is activated, and
/// periodically, every active lease of the principals concerned (everyone's for a policy change) is decided again
/// as its request would be decided now — the principal as recorded with the request, the request without its TTL,
/// the risk and the policy of now. A lease that would no longer be granted is revoked at once (login dropped,
/// sessions ended, tokens inactive), with `airlock.credential.revoked` naming the cause; approved requests not yet
/// picked up are closed the same way; one high-severity alert (`airlock.access.reevaluated`) names the cause and
/// everything it ended. Leases are marked and claimed as every revocation is, so several replicas re-evaluating
/// the same change never revoke twice, and only the replica that marked a lease names it in its alert.
public struct ContinuousEvaluation: LeaseReevaluation {
    public let leases: Leases
    let logger: Logger

    public init(leases: Leases, logger: Logger) {
        self.leases = leases
        self.logger = logger
    }

    public func reevaluate(principal: String?, because reason: String) async throws {
        _ = try await run(principal: principal, because: reason)
    }

    /// Re-decides the active leases and approved requests of `principal` (everyone's when nil) and ends those no
    /// longer granted, because of `cause` (words for people: "signal device_compromised (high) from token:edr").
    public func run(principal: String?, because cause: String) async throws -> ReevaluationOutcome {
        var toRevoke: [UUID] = []
        for lease in try await leases.store.active(principal: principal) {
            if try await !stillGranted(requestID: lease.requestID) { toRevoke.append(lease.id) }
        }
        var revoked: [UUID] = []
        if !toRevoke.isEmpty {
            revoked = try await leases.revocation.store.markForRevocation(
                ids: toRevoke, reason: "continuous evaluation: \(cause)")
            if !revoked.isEmpty { _ = try await leases.revocation.revokeDue(ids: revoked, limit: revoked.count) }
        }

        // An approved request is re-decided by its state machine, under its row lock, as at pickup: closed when the
        // decision of now no longer grants it, untouched otherwise.
        var closed: [UUID] = []
        for id in try await leases.requests.approvedNotPickedUp(principal: principal) {
            guard let (_, decided) = try await decideNow(requestID: id) else { continue }
            let decision = decided ?? DecidedAsk(
                decision: .defaultDeny, explanation: nil, policySetID: leases.decider.policies.active.id)
            do {
                let action = try await leases.requests.redecide(
                    id, decision: decision.decision, policySetID: decision.policySetID, reason: "continuous_evaluation")
                if case .deny = action { closed.append(id) }
            } catch is AccessRequestError {
                continue  // picked up or closed meanwhile: the lease pass of the next change sees it
            }
        }

        let outcome = ReevaluationOutcome(cause: cause, revokedLeases: revoked, closedRequests: closed)
        if outcome.endedAnything {
            logger.notice("continuous evaluation ended access", metadata: [
                "cause": "\(cause)", "leases": "\(revoked.count)", "requests": "\(closed.count)",
            ])
            try await leases.requests.recordAlert(Self.alert(outcome, principal: principal))
        }
        return outcome
    }

    /// `airlock.access.reevaluated`: high, for the security team, naming the cause and every lease and request ended.
    static func alert(_ outcome: ReevaluationOutcome, principal: String?) -> NewAuditEvent {
        var data: [String: JSONValue] = [
            "title": .string("access ended by continuous evaluation: \(outcome.cause)"),
            "cause": .string(outcome.cause),
            "leases": .array(outcome.revokedLeases.map { .string($0.uuidString.lowercased()) }),
            "requests": .array(outcome.closedRequests.map { .string($0.uuidString.lowercased()) }),
        ]
        if let principal { data["principal"] = .string(principal) }
        return NewAuditEvent(
            type: "airlock.access.reevaluated", subject: principal ?? "*", severity: AlertRouting.failure.severity,
            channels: [AlertRouting.security], data: data)
    }

    /// Whether the request behind a lease would still be granted now (not when the request or its resource is gone).
    func stillGranted(requestID: UUID) async throws -> Bool {
        guard let (record, decided) = try await decideNow(requestID: requestID), let decided else { return false }
        return Leases.stillGrants(decided.decision, original: record)
    }

    /// Request `requestID` decided now: as recorded (its principal's attributes, role, reason, ticket,
    /// break-glass, source address), without its TTL, with the risk and the policy of now. Nil when the request is
    /// gone; a nil decision when its resource or role is no longer configured, or the input cannot be decided
    /// (logged): nothing grants it then.
    func decideNow(requestID: UUID) async throws -> (record: AccessRequestRecord, decided: DecidedAsk?)? {
        let decider = leases.decider
        guard let record = try await leases.requests.get(requestID),
              let stored = try await leases.requests.evaluationInput(of: requestID)
        else { return nil }
        guard let resource = decider.catalog[record.resourceID], resource.roles[record.role] != nil else {
            return (record, nil)
        }
        let ask = Ask(
            resource: resource.id, role: record.role, ttlSeconds: Int64(record.ttlSeconds), reason: record.reason,
            ticket: record.ticket, breakGlass: record.breakGlass, sourceIP: record.sourceIP)
        let input = await decider.input(
            principal: Self.principal(record, stored: stored["principal"]), resource: resource, ask: ask,
            includingTTL: false)
        do {
            return (record, try decider.decide(input))
        } catch {
            logger.error("continuous evaluation cannot decide a request", metadata: [
                "request_id": "\(requestID)", "error": "\(error.message)",
            ])
            return (record, nil)
        }
    }

    /// The principal as recorded with the request (`evaluation_input.principal`): id and kind from the record,
    /// groups, email, MFA age, on-call and manager from the stored attributes.
    static func principal(_ record: AccessRequestRecord, stored: JSONValue?) -> Principal {
        Principal(
            id: record.principalID, kind: record.principalKind,
            groups: stored?["groups"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            email: stored?["email"]?.stringValue, mfaAgeSeconds: stored?["mfa_age"]?.intValue,
            onCall: stored?["on_call"]?.boolValue ?? false, manager: stored?["manager"]?.stringValue)
    }
}
