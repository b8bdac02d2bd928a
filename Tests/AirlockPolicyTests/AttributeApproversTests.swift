import Testing

@testable import AirlockPolicy

/// Version 1.1 of the policy language: `group(ATTR) count N` and `user(ATTR)` name approvers through attributes
/// read when the rule is decided.
@Suite("Approvers named by attributes")
struct AttributeApproversTests {
    static let policy = """
        require_approval "owner-write"
          when request.role == "readwrite" and principal has manager
          approvers user(principal.manager), group(resource.owner) count 1
          ttl <= 30m;
        """

    /// The decision of both evaluators, which must agree.
    static func decide(_ set: PolicySet, _ input: EvaluationInput) -> Decision {
        let compiled = set.evaluate(input)
        let reference = Evaluator(rules: set.rules).decide(input)
        #expect(compiled == reference, "compiled \(compiled) differs from reference \(reference)")
        return compiled
    }

    static func writer(_ changes: (inout EvaluationInput) -> Void = { _ in }) -> EvaluationInput {
        baseInput {
            $0[.request, "role"] = .string("readwrite")
            $0[.principal, "manager"] = .string("erin")
            changes(&$0)
        }
    }

    // MARK: Deciding

    @Test("the example of the language reference loads and decides as written")
    func specExample() throws {
        let set = try loadPolicies(Self.policy)
        let rule = try #require(set.rule(id: "owner-write"))
        #expect(rule.approvers.map(\.approvers.written) == ["user(principal.manager)", "group(resource.owner)"])
        #expect(rule.approvers.map(\.count) == [1, 1])
        let decision = Self.decide(set, Self.writer())
        #expect(decision.outcome == .pendingApproval)
        #expect(decision.approvals == [Decision.Approval(rule: "owner-write", requires: [
            .user("erin"), .group("payments", count: 1),
        ])])
        #expect(decision.json == #"""
            {"decision": "pending_approval", "ttl_seconds": 1800, "rules": ["owner-write"], "approvals": [{"rule": "owner-write", "requires": [{"user": "erin", "count": 1}, {"group": "payments", "count": 1}]}], "notify": [], "errors": []}
            """#)
    }

    @Test("requirements keep the written order; two that name the same group stay two")
    func orderAndSameGroupTwice() throws {
        let set = try loadPolicies("""
            require_approval "pci"
              when request.role == "readwrite"
              approvers group("security") count 2, group(resource.owner) count 2 including services, group("payments")
                , user(principal.id);
            """)
        let decision = Self.decide(set, Self.writer())
        #expect(decision.approvals.first?.requires == [
            .group("security", count: 2), .group("payments", count: 2, includesServices: true),
            .group("payments", count: 1), .user("alice"),
        ])
        #expect(decision.json.contains(#""requires": [{"group": "security", "count": 2}, {"group": "payments", "count": 2, "services": true}, {"group": "payments", "count": 1}, {"user": "alice", "count": 1}]"#),
            "\(decision.json)")
    }

    @Test func declaredAttributesAndIncludingServices() throws {
        let set = try loadPolicies("""
            attribute resource.steward: String
            attribute principal.lead: String?
            require_approval "r"
              when principal has lead
              approvers group(resource.steward) count 2 including services, user(principal.lead) including services;
            """)
        let decision = Self.decide(set, Self.writer {
            $0[.resource, "steward"] = .string("data-stewards")
            $0[.principal, "lead"] = .string("lee")
        })
        #expect(decision.approvals.first?.requires == [
            .group("data-stewards", count: 2, includesServices: true), .user("lee", includesServices: true),
        ])
        #expect(decision.json.contains(#"{"user": "lee", "count": 1, "services": true}"#), "\(decision.json)")
    }

    // MARK: Runtime errors

    @Test("an absent attribute is a runtime error: the rule does not apply and is listed in errors")
    func absentAttribute() throws {
        let set = try loadPolicies(Self.policy + """

            require_approval "fallback" when request.role == "readwrite" approvers group("dba");
            """)
        let decision = Self.decide(set, Self.writer { $0[.resource, "owner"] = nil })
        #expect(decision.outcome == .pendingApproval)
        #expect(decision.rules == ["fallback"])
        #expect(decision.approvals == [Decision.Approval(rule: "fallback", requires: [.group("dba", count: 1)])])
        #expect(decision.errors == [Decision.RuleError(rule: "owner-write", message: "attribute `resource.owner` is absent")])
    }

    @Test("an empty string names nobody: a runtime error for user and for group")
    func emptyString() throws {
        let set = try loadPolicies(Self.policy)
        let noManager = Self.decide(set, Self.writer { $0[.principal, "manager"] = .string("") })
        #expect(noManager.outcome == .deny)
        #expect(noManager.rules == [])
        #expect(noManager.errors == [
            Decision.RuleError(rule: "owner-write", message: "`principal.manager` is empty: no approver to name"),
        ])
        let noOwner = Self.decide(set, Self.writer { $0[.resource, "owner"] = .string("") })
        #expect(noOwner.errors == [
            Decision.RuleError(rule: "owner-write", message: "`resource.owner` is empty: no group to name"),
        ])
    }

    @Test("the first failing read in written order is the error")
    func firstFailingReadWins() throws {
        let set = try loadPolicies(Self.policy)
        let both = Self.decide(set, Self.writer {
            $0[.principal, "manager"] = .string("")
            $0[.resource, "owner"] = nil
        })
        #expect(both.errors.map(\.message) == ["`principal.manager` is empty: no approver to name"])
    }

    @Test("a failing approval rule is not listed when the decision is permit; a chain that does not hold reads nothing")
    func errorsFollowTheDecision() throws {
        let loaded = try loadPolicies(Self.policy + """

            permit "read" when request.role == "readwrite" and risk.score < 5;
            """)
        let permitted = Self.decide(loaded, Self.writer {
            $0[.resource, "owner"] = nil
            $0[.risk, "score"] = .int(1)
        })
        #expect(permitted.outcome == .permit)
        #expect(permitted.errors == [])
        // When the chain does not hold, the approvers are never read.
        let readonly = Self.decide(loaded, Self.writer {
            $0[.resource, "owner"] = nil
            $0[.request, "role"] = .string("readonly")
        })
        #expect(readonly == Decision.defaultDeny)
    }

    @Test("a value of another type in a hand-built input fails the same way in both evaluators")
    func mistypedValue() throws {
        let set = try loadPolicies(Self.policy)
        let decision = Self.decide(set, Self.writer { $0[.principal, "manager"] = .int(7) })
        #expect(decision.errors.map(\.message) == ["`principal.manager` is Int, not String"])
    }

    @Test("a declared required attribute absent from the input is a runtime error too")
    func declaredAbsent() throws {
        let set = try loadPolicies("""
            attribute resource.steward: String
            require_approval "r" approvers group(resource.steward) count 2;
            """)
        let decision = Self.decide(set, Self.writer())
        #expect(decision == Decision(outcome: .deny, ttlSeconds: nil, rules: [],
            errors: [Decision.RuleError(rule: "r", message: "attribute `resource.steward` is absent")]))
        #expect(Evaluator(rules: set.rules).evaluate(try #require(set.rule(id: "r")), input: Self.writer())
            == .failedApprovers(requirementIndex: 0, EvaluationError(
                message: "attribute `resource.steward` is absent",
                location: SourceLocation(file: "test.airlock", line: 2, column: 38))))
    }

    // MARK: Explain

    @Test("explain shows the approvers read that failed: rule, line, message and the value seen")
    func explainsFailedRead() throws {
        let set = try loadPolicies(Self.policy, file: "Policies/routing.airlock")
        let input = Self.writer { $0[.resource, "owner"] = nil }
        let explanation = set.explain(input)
        #expect(explanation.decision == set.evaluate(input))
        let rule = try #require(explanation.rules.first)
        #expect(rule.rule == "owner-write")
        #expect(rule.status == .failed)
        #expect(!rule.applied)
        let failure = try #require(rule.failure)
        #expect(failure.inApprovers)
        #expect(failure.clause == "approvers")
        #expect(failure.error == "attribute `resource.owner` is absent")
        #expect(failure.expression.description == "resource.owner")
        #expect(failure.location == SourceLocation(file: "Policies/routing.airlock", line: 3, column: 44))
        #expect(failure.sourceLine == "  approvers user(principal.manager), group(resource.owner) count 1")
        #expect(failure.observed.map(\.description) == ["resource.owner is absent"])

        let empty = set.explain(Self.writer { $0[.principal, "manager"] = .string("") })
        let emptyFailure = try #require(empty.rules.first?.failure)
        #expect(emptyFailure.error == "`principal.manager` is empty: no approver to name")
        #expect(emptyFailure.location.column == 18)
        #expect(emptyFailure.observed.map(\.description) == [#"principal.manager = """#])

        let applied = set.explain(Self.writer())
        #expect(applied.rules.first?.status == .applied)
        #expect(applied.rules.first?.failure == nil)
        // A chain that does not hold is explained as before, in its `when` clause.
        let unguarded = try #require(set.explain(Self.writer { $0[.principal, "manager"] = nil }).rules.first?.failure)
        #expect(!unguarded.inApprovers)
        #expect(unguarded.clause == "when")
        #expect(unguarded.expression.description == "principal has manager")
    }

    // MARK: Load errors

    private static func rendered(_ text: String) -> [String] {
        loadDiagnostics(text, file: "Policies/a.airlock").map(\.description)
    }

    @Test func unknownAttributeSuggestsTheNearName() {
        #expect(Self.rendered("""
            require_approval "r" when principal has manager
              approvers user(principal.manger), group(resource.ownr) count 2;
            """) == [
            """
            Policies/a.airlock:2:18: error: unknown attribute `principal.manger`; did you mean `principal.manager`?
              approvers user(principal.manger), group(resource.ownr) count 2;
                             ^
            """,
            """
            Policies/a.airlock:2:43: error: unknown attribute `resource.ownr`; did you mean `resource.owner`?
              approvers user(principal.manger), group(resource.ownr) count 2;
                                                      ^
            """,
        ])
    }

    @Test func attributeOfAnotherTypeIsATypeError() {
        #expect(Self.rendered(#"require_approval "r" approvers group(principal.groups) count 2;"#) == [
            """
            Policies/a.airlock:1:38: error: `group(...)` needs a String attribute naming a group; `principal.groups` is Set<String>
            require_approval "r" approvers group(principal.groups) count 2;
                                                 ^
            """,
        ])
        #expect(loadDiagnostics(#"require_approval "r" approvers user(resource.sensitivity);"#).map(\.message)
            == ["`user(...)` needs a String attribute holding a principal id; `resource.sensitivity` is Int"])
        #expect(loadDiagnostics(#"require_approval "r" when principal has mfa_age approvers user(principal.mfa_age);"#)
            .map(\.message) == ["`user(...)` needs a String attribute holding a principal id; `principal.mfa_age` is Duration?"])
    }

    @Test func unguardedOptionalAttributeIsAnError() {
        #expect(Self.rendered(#"require_approval "r" when request.role == "readwrite" approvers user(principal.manager);"#) == [
            """
            Policies/a.airlock:1:70: error: `principal.manager` is optional and may be absent; test `principal has manager` in the rule's `when` clauses first, as in `when principal has manager`
            require_approval "r" when request.role == "readwrite" approvers user(principal.manager);
                                                                                 ^
            """,
        ])
    }

    @Test(arguments: [
        "when principal has manager",
        "when principal has manager and principal has email",
        "when request.role == \"readwrite\" when principal has manager",
        "unless not (principal has manager)",
        "when risk.score < 3 and (principal has manager and true)",
        "when not (not (principal has manager) or request.break_glass)",
    ])
    func guardedAnywhereInTheChain(chain: String) {
        // The approvers clause is read after the whole chain: written before or after the guard, it is guarded.
        #expect(loadDiagnostics("require_approval \"r\" \(chain) approvers user(principal.manager);") == [])
        #expect(loadDiagnostics("require_approval \"r\" approvers user(principal.manager) \(chain) ttl <= 1h;") == [])
    }

    @Test(arguments: [
        "when principal has manager or request.break_glass",
        "unless principal has manager",
        "when not (principal has manager)",
        "when principal has email",
        "when request.role == \"readwrite\"",
    ])
    func unguardedChains(chain: String) {
        #expect(loadDiagnostics("require_approval \"r\" \(chain) approvers user(principal.manager);").map(\.message) == [
            "`principal.manager` is optional and may be absent; test `principal has manager` in the rule's `when` "
                + "clauses first, as in `when principal has manager`",
        ])
    }

    @Test func optionalEmailNeedsItsGuardToo() {
        #expect(loadDiagnostics(#"require_approval "r" approvers group(principal.email);"#).map(\.message) == [
            "`principal.email` is optional and may be absent; test `principal has email` in the rule's `when` "
                + "clauses first, as in `when principal has email`",
        ])
        #expect(loadDiagnostics(#"require_approval "r" approvers group(principal.email) when principal has email;"#) == [])
    }

    @Test func countOnUserIsAnError() {
        #expect(Self.rendered(#"require_approval "r" when principal has manager approvers user(principal.manager) count 2;"#) == [
            """
            Policies/a.airlock:1:83: error: `user(...)` is always one approver; remove `count`
            require_approval "r" when principal has manager approvers user(principal.manager) count 2;
                                                                                              ^
            """,
        ])
    }

    @Test func literalInUserIsAnError() {
        #expect(Self.rendered(#"require_approval "r" approvers user("erin");"#) == [
            """
            Policies/a.airlock:1:37: error: `user(...)` takes an attribute naming the approver, such as `user(principal.manager)`, not a literal; for fixed approvers use `group("...")`
            require_approval "r" approvers user("erin");
                                                ^
            """,
        ])
    }

    @Test(arguments: [
        (#"require_approval "r" approvers group(resource.owner count 2;"#,
         "expected `)` after `resource.owner`, found `count`"),
        (#"require_approval "r" when principal has manager approvers user(principal.manager;"#,
         "expected `)` after `principal.manager`, found `;`"),
        (#"require_approval "r" approvers user principal.manager;"#,
         "expected `(` after `user`, found `principal`"),
        (#"require_approval "r" approvers user();"#,
         "expected a String attribute naming the approver, such as `principal.manager`, in `user(...)`, found `)`"),
        (#"require_approval "r" approvers group(owners) count 1;"#,
         "expected a group name string or a String attribute such as `resource.owner` in `group(...)`, found `owners`"),
        (#"require_approval "r" approvers user(princpal.manager);"#,
         "unknown entity `princpal`; expected `principal`, `resource`, `request` or `risk`; did you mean `principal`?"),
        (#"require_approval "r" approvers user(principal.manager.id);"#,
         "attributes have one level: `principal.manager` has no attributes"),
        (#"require_approval "r" approvers usr(principal.manager);"#,
         "expected `group(...)` or `user(...)`, found `usr`; did you mean `user`?"),
        (#"require_approval "r" approvers group(resource.owner) count 0;"#, "`count 0` must be at least 1"),
    ])
    func syntaxErrors(text: String, message: String) {
        #expect(Parser.parse(SourceFile(name: "p.airlock", text: text)).diagnostics.map(\.message) == [message])
    }

    @Test func sameAttributeListedTwiceIsAnError() {
        #expect(loadDiagnostics("""
            require_approval "r" when principal has manager
              approvers group(resource.owner), group(resource.owner) count 2, user(principal.manager),
                user(principal.manager);
            """).map(\.description) == [
            """
            test.airlock:2:36: error: `group(resource.owner)` is listed twice; use one requirement with a larger `count`
              approvers group(resource.owner), group(resource.owner) count 2, user(principal.manager),
                                               ^
            """,
            """
            test.airlock:3:5: error: `user(principal.manager)` is listed twice; one person's approval counts once, so it could never be met
                user(principal.manager);
                ^
            """,
        ])
        // A fixed group and an attribute that may name the same group are fine: they stay two requirements.
        #expect(loadDiagnostics(#"require_approval "r" approvers group("payments"), group(resource.owner);"#) == [])
    }

    @Test func attributeApproversOutsideApprovalRulesAreStillAnError() {
        #expect(loadDiagnostics(#"permit "p" approvers group(resource.owner);"#).map(\.message)
            == ["`approvers` is only allowed in `require_approval` rules"])
    }

    // MARK: Schema and input

    @Test func managerIsBuiltIn() throws {
        #expect(Schema.builtIn[AttributePath(.principal, "manager")] == AttributeType(.string, optional: true))
        #expect(loadDiagnostics("attribute principal.manager: String").map(\.message)
            == ["attribute `principal.manager` is built in and cannot be redeclared"])
        let set = try loadPolicies(Self.policy)
        let input = try set.decodeInput(jsonLine: #"{"principal": {"manager": "erin"}, "resource": {"owner": "payments"}}"#)
        #expect(input[.principal, "manager"] == .string("erin"))
        #expect(try set.decodeInput(jsonLine: #"{"principal": {"manager": null}}"#)[.principal, "manager"] == nil)
        #expect(throws: InputError(message: "`principal.manager` must be a string, got an integer")) {
            try set.decodeInput(jsonLine: #"{"principal": {"manager": 3}}"#)
        }
        // `principal.manager` reads like any optional String in conditions.
        #expect(try holds(#"principal has manager and principal.manager == "erin""#, Self.writer()))
    }

    // MARK: Formatting

    @Test func formatsInTheGroupLayoutAndRoundTrips() throws {
        let messy = """
            require_approval "r" when principal has manager approvers   user( principal.manager ) ,group(resource.owner)count 2 including services,
            group(resource.env) , group("dba") ttl<=30m;
            """
        let formatted = try Formatter.format(SourceFile(name: "t.airlock", text: messy)).get()
        #expect(formatted == """
            require_approval "r"
              when principal has manager
              approvers user(principal.manager), group(resource.owner) count 2 including services, group(resource.env) count 1, group("dba") count 1
              ttl <= 30m;

            """)
        #expect(try Formatter.format(SourceFile(name: "t.airlock", text: formatted)).get() == formatted)
        #expect((try? loadPolicies(formatted)) != nil)
    }

    // MARK: Policy test files

    @Test func policyTestFilesExpectUserRequirements() throws {
        let set = try loadPolicies(Self.policy)
        let cases = try PolicyTestSuite.parse(#"""
            {"defaults": {"principal": {"id": "alice", "manager": "erin"}, "resource": {"owner": "payments"},
                          "request": {"role": "readwrite", "ttl": 3600}},
             "cases": [
              {"name": "manager and owners", "input": {}, "expect": {"decision": "pending_approval", "ttl_seconds": 1800,
               "approvals": [{"rule": "owner-write", "requires": [{"user": "erin", "count": 1}, {"group": "payments", "count": 1}]}]}},
              {"name": "another manager", "input": {"principal": {"manager": "frank"}}, "expect": {"decision": "pending_approval",
               "approvals": [{"rule": "owner-write", "requires": [{"user": "frank", "count": 1}, {"group": "payments", "count": 1}]}]}},
              {"name": "no manager", "input": {"principal": {"manager": ""}}, "expect": {"decision": "deny",
               "errors": [{"rule": "owner-write", "message": "`principal.manager` is empty: no approver to name"}]}},
              {"name": "wrong expectation", "input": {}, "expect": {"decision": "pending_approval",
               "approvals": [{"rule": "owner-write", "requires": [{"group": "erin", "count": 1}, {"group": "payments", "count": 1}]}]}}
            ]}
            """#, file: "tests/routing.json")
        let report = PolicyTestSuite(cases: cases).run(against: set)
        #expect(report.results.map(\.passed) == [true, true, true, false])
        #expect(report.results.last?.mismatches == [
            #"expected approvals [{"rule": "owner-write", "requires": [{"group": "erin", "count": 1}, {"group": "payments", "count": 1}]}], "#
                + #"got [{"rule": "owner-write", "requires": [{"user": "erin", "count": 1}, {"group": "payments", "count": 1}]}]"#,
        ])
        #expect(report.summaryLine == "3 passed, 1 failed")
    }
}
