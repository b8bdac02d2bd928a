import AirlockTestRandom
import Testing

@testable import AirlockPolicy

/// The compiled evaluator on hand-picked cases: which rules the index lets a decision skip, and that
/// skipping never hides an error the reference evaluator reports.
@Suite("Compiled policy: index, folding, exact errors")
struct CompiledPolicyTests {
    /// Loads `text`, checks that compiled and reference decisions agree on `input`, returns the decision
    /// and the rules the compiled form evaluated.
    private func decide(_ text: String, _ input: EvaluationInput) throws -> (Decision, [String]) {
        let set = try loadPolicies(text)
        let compiled = CompiledPolicy(set)
        let decision = compiled.decide(input)
        #expect(decision == Evaluator(rules: set.rules).decide(input))
        #expect(set.evaluate(input) == decision)
        return (decision, compiled.evaluatedRuleIDs(for: input))
    }

    @Test func examplePolicyIsIndexed() throws {
        let set = try loadPolicies(examplePolicy)
        let compiled = CompiledPolicy(set)
        // The two `forbid`s start with a range test and a CIDR test: no key. The three others have one.
        #expect(compiled.statistics.indexedRules == 3)
        #expect(compiled.statistics.unindexedRules == 2)
        #expect(compiled.evaluatedRuleIDs(for: baseInput()) == ["high-risk", "outside-corporate-network", "sre-prod-readonly"])
        // `prod-write` is keyed on its groups and its role together: asking for read-only, a backend engineer does
        // not even reach it; asking to write, they do.
        let backend = baseInput { $0[.principal, "groups"] = .set(["backend"]) }
        #expect(compiled.evaluatedRuleIDs(for: backend) == ["high-risk", "outside-corporate-network"])
        let backendWriting = baseInput {
            $0[.principal, "groups"] = .set(["backend"])
            $0[.request, "role"] = .string("readwrite")
        }
        #expect(compiled.evaluatedRuleIDs(for: backendWriting) == ["high-risk", "outside-corporate-network", "prod-write"])
        for input in [baseInput(), backend, backendWriting, baseInput { $0[.request, "break_glass"] = .bool(true) }] {
            #expect(compiled.decide(input) == Evaluator(rules: set.rules).decide(input))
        }
    }

    @Test(arguments: [
        #"permit "k" when resource.env == "dev";"#,
        #"permit "k" when "dev" == resource.env;"#,
        #"permit "k" unless resource.env != "dev";"#,
        #"permit "k" when not (resource.env != "dev");"#,
        #"permit "k" when resource.env in ["dev", "staging"];"#,
        #"permit "k" when resource.env in [];"#,
        #"permit "k" when request.break_glass;"#,
        #"permit "k" when not (not principal.on_call);"#,
        #"permit "k" when "dba" in principal.groups;"#,
        #"permit "k" when principal.groups contains "dba";"#,
        #"permit "k" when principal.groups contains_any ["dba", "backend"];"#,
        #"permit "k" when ["dba", "backend"] contains_any principal.groups;"#,
        #"permit "k" when principal.groups contains_all ["dba", "sre"];"#,
        #"permit "k" when risk.score == 99 and resource.env == "dev";"#,
        #"permit "k" when risk.score > 5 and principal has mfa_age and principal.mfa_age < 1m when resource.env == "dev";"#,
        #"permit "k" unless request.hour < 3 or resource.env != "dev";"#,
    ])
    func keyedRuleIsSkippedWhenItsKeyCannotMatch(rule: String) throws {
        let (decision, evaluated) = try decide(rule, baseInput())
        #expect(decision == .defaultDeny)
        #expect(evaluated.isEmpty)
    }

    /// A rule keyed on two attributes is left out only when both are well-typed and the pair is not its pair; with
    /// either attribute absent or mistyped it is evaluated, and reports the reference's error.
    @Test(arguments: [
        ("alice", Value.string("orders-db"), true, Decision.Outcome.permit),
        ("alice", .string("users-db"), false, .deny),
        ("bob", .string("orders-db"), false, .deny),
        ("bob", .string("users-db"), false, .deny),
        ("alice", nil, true, .deny),
        ("bob", .int(3), true, .deny),
    ] as [(String, Value?, Bool, Decision.Outcome)])
    func ruleKeyedOnTwoAttributesIsSkippedOnlyWhenThePairCannotMatch(
        principal: String, resource: Value?, evaluated: Bool, outcome: Decision.Outcome
    ) throws {
        let rule = #"permit "k" when principal.id == "alice" and risk.score < 50 and resource.id in ["orders-db", "ledger-db"];"#
        let input = baseInput {
            $0[.principal, "id"] = .string(principal)
            $0[.resource, "id"] = resource
        }
        let (decision, ruleIDs) = try decide(rule, input)
        #expect(decision.outcome == outcome)
        #expect(ruleIDs == (evaluated ? ["k"] : []))
    }

    @Test func keyedRuleIsEvaluatedWhenItsKeyMatches() throws {
        let rule = #"permit "k" when "sre" in principal.groups and resource.env == "prod";"#
        let (decision, evaluated) = try decide(rule, baseInput())
        #expect(decision.rules == ["k"])
        #expect(evaluated == ["k"])
    }

    @Test func absentKeyAttributeIsEvaluatedAndReportsTheError() throws {
        let rule = #"forbid "k" when resource.env == "dev";"#
        let (decision, evaluated) = try decide(rule, baseInput { $0[.resource, "env"] = nil })
        #expect(evaluated == ["k"])
        #expect(decision == Decision(outcome: .deny, ttlSeconds: nil, rules: ["k"],
            errors: [.init(rule: "k", message: "attribute `resource.env` is absent")]))
    }

    @Test func mistypedKeyAttributeIsEvaluatedAndReportsTheError() throws {
        let rule = #"forbid "k" when resource.env == "dev";"#
        let (decision, evaluated) = try decide(rule, baseInput { $0[.resource, "env"] = .int(3) })
        #expect(evaluated == ["k"])
        #expect(decision.errors == [.init(rule: "k", message: #"`==` cannot compare Int with String in `resource.env == "dev"`"#)])
    }

    /// The trap of the issue: a `forbid` whose earlier condition errors must not be skipped on a later key,
    /// or a deny would turn into a permit.
    @Test func forbidWithAFailingEarlierConditionIsNotSkipped() throws {
        let text = #"""
            attribute principal.department: String
            forbid "f" when principal.department like "e*" and resource.env == "dev";
            permit "p" when true;
            """#
        let (denied, evaluated) = try decide(text, baseInput())
        #expect(evaluated == ["f", "p"])
        #expect(denied == Decision(outcome: .deny, ttlSeconds: nil, rules: ["f"],
            errors: [.init(rule: "f", message: "attribute `principal.department` is absent")]))
        let (permitted, skipping) = try decide(text, baseInput { $0[.principal, "department"] = .string("eng") })
        #expect(skipping == ["p"])
        #expect(permitted.outcome == .permit)
    }

    @Test func absentOptionalAttributeBeforeTheKeyStillAllowsTheSkip() throws {
        let rule = #"permit "k" when principal has mfa_age and principal.mfa_age < 1m and resource.env == "dev";"#
        let (_, evaluated) = try decide(rule, baseInput { $0[.principal, "mfa_age"] = nil })
        #expect(evaluated.isEmpty)
        let (_, mistyped) = try decide(rule, baseInput { $0[.principal, "mfa_age"] = .string("5m") })
        #expect(mistyped == ["k"])
    }

    @Test func constantsAreFolded() throws {
        let set = try loadPolicies(#"""
            permit "dead" when 1 > 2 and resource.env == "prod";
            permit "dead-too" unless "a" in ["a"];
            permit "live" when true and 2 >= 2 when resource.env == "prod" or false;
            """#)
        let compiled = CompiledPolicy(set)
        #expect(compiled.statistics.deadRules == 2)
        #expect(compiled.decide(baseInput()).rules == ["live"])
    }

    @Test func mistypedInputsGiveTheReferenceMessages() throws {
        let text = #"""
            forbid "bool" when request.break_glass;
            forbid "like" when request.reason like "INC-*";
            forbid "in" when request.weekday in ["mon", "sat"];
            forbid "member" when "sre" in principal.groups;
            forbid "any" when principal.groups contains_any ["a", "b"];
            forbid "cidr" when request.source_ip in [cidr("10.0.0.0/8")];
            """#
        let input = baseInput {
            $0[.request, "break_glass"] = .string("yes")
            $0[.request, "reason"] = .int(1)
            $0[.request, "weekday"] = .int(2)
            $0[.principal, "groups"] = .list([.int(1)])
            $0[.request, "source_ip"] = .string("10.0.0.1")
        }
        let (decision, _) = try decide(text, input)
        #expect(decision.rules == ["any", "bool", "cidr", "in", "like", "member"])
        #expect(decision.errors.count == 6)
        #expect(decision.errors.first { $0.rule == "bool" }?.message == "`request.break_glass` is String, not Bool")
    }

    @Test func globShapesMatchLikeThePattern() {
        var random = SplitMix64(seed: 42)
        let alphabet = ["a", "b", "*", "é", "e\u{301}", "\u{301}", "-"]
        for _ in 0..<3_000 {
            let elements = (0..<random.below(5)).map { _ -> GlobPattern.Element in
                random.chance(30) ? .wildcard : .literal((0..<random.below(3) + 1).map { _ in random.pick(alphabet) }.joined())
            }
            let pattern = GlobPattern(elements: elements)
            let text = (0..<random.below(6)).map { _ in random.pick(alphabet) }.joined()
            #expect(CompiledGlob(pattern).matches(text) == pattern.matches(text), "pattern \(pattern) text \(text)")
        }
    }
}
