import AirlockCore
import AirlockPolicy
import Foundation

/// One resource and role a principal could be granted, for the console's *Ask* page.
public struct OfferedAccess: Sendable, Hashable {
    public var resource: Resource
    public var role: String
    /// Whether the best case is a grant at once (`permit`) rather than one after approval.
    public var permittedOutright: Bool
}

extension AccessRequests {
    /// What the active policy could ever grant `principal`: every resource and role of the catalog for which some
    /// permit or approval rule applies in the best case — a second factor just proven, at 10:00 on a Tuesday in the
    /// broker's time zone, at risk score 0 without signals, without a TTL (the rule's cap) and without break-glass,
    /// asked from `sourceIP` (where the person is now: a rule on the network decides on the real address).
    /// What is denied even then is not offered; what is offered may still be denied now (the ask says why).
    public func offered(to principal: Principal, from sourceIP: String?) throws -> [OfferedAccess] {
        try principal.requireActingAsPrincipal()
        var offered: [OfferedAccess] = []
        for resource in decider.catalog.resources.sorted(by: { $0.id < $1.id }) {
            for role in resource.roles.keys.sorted() {
                var input = decider.attributes(
                    principal: principal, resource: resource,
                    ask: Ask(resource: resource.id, role: role, ttlSeconds: 0, reason: "catalog", sourceIP: sourceIP),
                    includingTTL: false)
                if principal.kind == .user { input.principal["mfa_age"] = .int(0) }
                input.request["hour"] = .int(10)
                input.request["weekday"] = .string("tue")
                guard let decided = try? decider.decide(input) else { continue }
                switch decided.decision.outcome {
                case .permit: offered.append(OfferedAccess(resource: resource, role: role, permittedOutright: true))
                case .pendingApproval:
                    offered.append(OfferedAccess(resource: resource, role: role, permittedOutright: false))
                case .deny: continue
                }
            }
        }
        return offered
    }
}
