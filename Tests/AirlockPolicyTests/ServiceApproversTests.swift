import Foundation
import Testing

@testable import AirlockPolicy

/// Issue 10, items 1 and 12: `including services` on an approval requirement is the one way a policy lets service
/// principals approve; without it (every policy written before) only people do.
@Suite("Approvers: including services")
struct ServiceApproversTests {
    static let policy = """
        require_approval "deploy-gate"
          when request.role == "deploy"
          approvers group("release-managers") count 1, group("release-checks") count 2 including services
          ttl <= 15m;

        require_approval "prod-write"
          when request.role == "readwrite"
          approvers group("db-owners") count 2, group("security") including services;
        """

    @Test func parsesPerRequirement() throws {
        let set = try loadPolicies(Self.policy)
        let gate = try #require(set.rule(id: "deploy-gate"))
        #expect(gate.approvers.map(\.fixedGroup) == ["release-managers", "release-checks"])
        #expect(gate.approvers.map(\.count) == [1, 2])
        #expect(gate.approvers.map(\.includesServices) == [false, true])
        // `count` may be left out before `including services`.
        let write = try #require(set.rule(id: "prod-write"))
        #expect(write.approvers.map(\.includesServices) == [false, true])
        #expect(write.approvers.map(\.count) == [2, 1])
    }

    @Test("the decision carries the flag, in Swift and in the decision JSON")
    func decisionsCarryTheFlag() throws {
        let set = try loadPolicies(Self.policy)
        let decision = set.evaluate(baseInput { $0[.request, "role"] = .string("deploy") })
        #expect(decision.outcome == .pendingApproval)
        #expect(decision.approvals == [Decision.Approval(rule: "deploy-gate", requires: [
            Decision.Requirement(group: "release-managers", count: 1),
            Decision.Requirement(group: "release-checks", count: 2, includesServices: true),
        ])])
        #expect(decision.json.contains(#"{"group": "release-managers", "count": 1}, {"group": "release-checks", "count": 2, "services": true}"#),
                "\(decision.json)")
        #expect(Evaluator(rules: set.rules).decide(baseInput { $0[.request, "role"] = .string("deploy") }) == decision)
    }

    @Test func formatsAndRoundTrips() throws {
        let messy = #"require_approval "g" when request.role == "deploy" approvers group("a") , group("b") count 2 including   services;"#
        let formatted = try Formatter.format(SourceFile(name: "t.airlock", text: messy)).get()
        #expect(formatted.contains(#"approvers group("a") count 1, group("b") count 2 including services"#), "\(formatted)")
        #expect(try Formatter.format(SourceFile(name: "t.airlock", text: formatted)).get() == formatted)
    }

    @Test func malformedClauseIsALoadError() {
        let diagnostics = loadDiagnostics(#"""
            require_approval "g" when request.role == "deploy" approvers group("a") count 1 including people;
            """#)
        #expect(diagnostics.contains { $0.message.contains("expected `services` after `including`") }, "\(diagnostics)")
    }

    @Test func policyTestFilesAcceptTheFlag() throws {
        let set = try loadPolicies(Self.policy)
        let cases = try PolicyTestSuite.parse(#"""
            {"cases": [
              {"name": "gate", "input": {"request": {"role": "deploy"}}, "expect": {"decision": "pending_approval",
               "approvals": [{"rule": "deploy-gate", "requires": [{"group": "release-managers", "count": 1},
                 {"group": "release-checks", "count": 2, "services": true}]}]}},
              {"name": "gate without the flag fails", "input": {"request": {"role": "deploy"}}, "expect": {
               "decision": "pending_approval",
               "approvals": [{"rule": "deploy-gate", "requires": [{"group": "release-managers", "count": 1},
                 {"group": "release-checks", "count": 2}]}]}}
            ]}
            """#, file: "t.json")
        let report = PolicyTestSuite(cases: cases).run(against: set)
        #expect(report.results.map(\.passed) == [true, false])
    }
}
