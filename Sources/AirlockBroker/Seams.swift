import AirlockCore
import AirlockPolicy
import Foundation

/// Where a risk score is computed before every decision (the risk engine plugs in here). The assessment becomes
/// the `risk` entity of the policy input and is stored with the request, so replay sees the same risk.
public protocol RiskAssessor: Sendable {
    /// The risk of `principal` asking `ask` of `resource`, now.
    func assess(principal: Principal, resource: Resource, ask: Ask) async -> RiskAssessment
}

/// Today's behaviour: no signals, score 0.
public struct NoRiskSignals: RiskAssessor {
    public init() {}
    public func assess(principal: Principal, resource: Resource, ask: Ask) async -> RiskAssessment { .none }
}

/// Where something that can change a decision after the fact — a risk signal, a shared signal from an identity
/// provider, a policy change — asks for the active leases to be decided again (continuous evaluation).
public protocol LeaseReevaluation: Sendable {
    /// Something changed for `principal` (nil: for everyone, e.g. a new policy set); re-decide their active leases.
    func reevaluate(principal: String?, because reason: String) async throws
}

/// No re-decision: a lease, once issued, is re-decided only when its owner renews it. The broker uses
/// ``ContinuousEvaluation``; this is for tools and tests that wire the parts without it.
public struct NoLeaseReevaluation: LeaseReevaluation {
    public init() {}
    public func reevaluate(principal: String?, because reason: String) async throws {}
}
