import AirlockCore
import AirlockPolicy
import Testing

@Suite("Decision changes (policy replay)")
struct DecisionChangeTests {
    static let prodWrite = ApprovalRule(rule: "prod-write", requires: [
        ApprovalRequirement(group: "db-owners", count: 2), ApprovalRequirement(group: "security", count: 1),
    ])

    static func permit(_ ttl: Int64, rules: [String] = ["sre"]) -> Decision {
        Decision(outcome: .permit, ttlSeconds: ttl, rules: rules)
    }

    static func pending(_ ttl: Int64, _ approvals: [ApprovalRule] = [prodWrite]) -> Decision {
        Decision(outcome: .pendingApproval, ttlSeconds: ttl, rules: approvals.map(\.rule), approvals: approvals)
    }

    static let deny = Decision(outcome: .deny, ttlSeconds: nil, rules: [])

    @Test("the same access is no change, whatever the rules, channels and errors say")
    func sameAccess() {
        #expect(DecisionChange.between(Self.permit(1800), Self.permit(1800)) == nil)
        #expect(DecisionChange.between(Self.permit(1800, rules: ["a"]), Self.permit(1800, rules: ["b"])) == nil)
        #expect(DecisionChange.between(Self.deny, Decision(
            outcome: .deny, ttlSeconds: nil, rules: ["high-risk"], notify: ["security"],
            errors: [.init(rule: "high-risk", message: "attribute `risk.score` is absent")])) == nil)
        #expect(DecisionChange.between(Self.pending(600), Self.pending(600)) == nil)
    }

    @Test("renaming an approval rule or reordering its groups is no change")
    func approvalsCompareByRequirements() {
        let renamed = ApprovalRule(rule: "writes", requires: Self.prodWrite.requires.reversed())
        #expect(DecisionChange.between(Self.pending(600), Self.pending(600, [renamed])) == nil)
    }

    @Test("outcome, ttl and approvals changes are named", arguments: [
        (permit(1800), deny, [DecisionChange.Aspect.outcome]),
        (deny, permit(1800), [.outcome]),
        (permit(3600), permit(1800), [.ttl]),
        (permit(1800), pending(1800), [.outcome]),
        (permit(3600), pending(1800), [.outcome, .ttl]),
        (pending(1800), pending(600), [.ttl]),
        (pending(600), pending(600, [ApprovalRule(rule: "prod-write", requires: [
            ApprovalRequirement(group: "db-owners", count: 3), ApprovalRequirement(group: "security", count: 1),
        ])]), [.approvals]),
        (pending(600), pending(600, [prodWrite, ApprovalRule(rule: "sre", requires: [
            ApprovalRequirement(group: "sre", count: 1),
        ])]), [.approvals]),
        (pending(1800), pending(600, []), [.ttl, .approvals]),
    ])
    func changes(before: Decision, after: Decision, aspects: [DecisionChange.Aspect]) throws {
        let change = try #require(DecisionChange.between(before, after))
        #expect(change.aspects == aspects)
        #expect(change.before == before)
        #expect(change.after == after)
    }
}
