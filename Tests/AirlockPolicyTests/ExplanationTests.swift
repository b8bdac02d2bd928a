import Testing

@testable import AirlockPolicy

@Suite("Explanation")
struct ExplanationTests {
    @Test func explainsTheFirstFailedCondition() throws {
        let set = try loadPolicies(examplePolicy, file: "Policies/main.airlock")
        let input = baseInput { $0[.principal, "mfa_age"] = .duration(7_200) }
        let explanation = set.explain(input)
        #expect(explanation.decision == set.evaluate(input))
        #expect(explanation.rules.map(\.rule) == set.rules.map(\.id))
        #expect(explanation.rules.map(\.status) == [.notApplied, .notApplied, .notApplied, .notApplied, .notApplied])
        let sre = try #require(explanation.rules.first?.failure)
        #expect(sre.polarity == .when)
        #expect(sre.expression.description == "principal.mfa_age <= 15m")
        #expect(sre.value == false)
        #expect(sre.location == SourceLocation(file: "Policies/main.airlock", line: 7, column: 34))
        #expect(sre.sourceLine == "   and principal has mfa_age and principal.mfa_age <= 15m")
        #expect(sre.observed.map(\.description) == ["principal.mfa_age = 2h"])
        let network = try #require(explanation.rules[3].failure)
        #expect(network.polarity == .unless)
        #expect(network.expression.description == #"request.source_ip in cidr("10.0.0.0/8")"#)
        #expect(network.observed.map(\.description) == [#"request.source_ip = ip("10.1.2.3")"#])
        let breakGlass = try #require(explanation.rules[4].failure)
        #expect(breakGlass.expression.description == "request.break_glass")
    }

    @Test func explainsAbsentAttributesAndErrors() throws {
        let set = try loadPolicies(#"""
            attribute principal.team: String
            permit "mfa" when not (request.break_glass) and principal has mfa_age and principal.mfa_age < 15m;
            forbid "team" when principal.team == "x" or true;
            """#)
        let explanation = set.explain(baseInput { $0[.principal, "mfa_age"] = nil })
        let mfa = try #require(explanation.rules[0].failure)
        #expect(mfa.expression.description == "principal has mfa_age")
        #expect(mfa.observed.map(\.description) == ["principal.mfa_age is absent"])
        #expect(explanation.rules[1].status == .failed)
        #expect(explanation.rules[1].applied)
        let team = try #require(explanation.rules[1].failure)
        #expect(team.error == "attribute `principal.team` is absent")
        #expect(team.expression.description == #"principal.team == "x""#)
        #expect(explanation.decision.outcome == .deny)
    }

    @Test func appliedRulesHaveNoFailure() throws {
        let set = try loadPolicies(#"permit "a" when true; forbid "b" when not true;"#)
        let explanation = set.explain(baseInput())
        #expect(explanation.rules[0].status == .applied)
        #expect(explanation.rules[0].failure == nil)
        #expect(explanation.rules[1].failure?.expression.description == "not true")
    }
}
