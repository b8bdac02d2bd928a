import Testing

@testable import AirlockPolicy

@Suite("Evaluator")
struct EvaluatorTests {
    @Test(arguments: [
        (#"request.role == "readonly""#, true), (#"request.role != "readonly""#, false),
        ("risk.score == 10", true), ("risk.score != 10", false), ("request.break_glass == false", true),
        ("request.ttl == 30m", true), (#"request.source_ip == ip("10.1.2.3")"#, true),
        (#"request.source_ip == ip("::ffff:10.1.2.3")"#, false),
        ("risk.score < 11", true), ("risk.score < 10", false), ("risk.score <= 10", true), ("risk.score > 9", true),
        ("risk.score >= 11", false), ("request.ttl < 1h", true), ("request.ttl >= 1h", false), ("risk.score > -5", true),
        (#""sre" in principal.groups"#, true), (#""dba" in principal.groups"#, false),
        (#"request.weekday in ["mon", "tue"]"#, true), ("risk.score in [1, 2]", false), (#""x" in []"#, false),
        (#"request.source_ip in cidr("10.0.0.0/8")"#, true), (#"request.source_ip in cidr("10.9.9.9/16")"#, false),
        (#"request.source_ip in cidr("::/0")"#, false),
        (#"request.source_ip in [cidr("192.168.0.0/16"), cidr("10.1.0.0/16")]"#, true),
        (#"request.source_ip in [ip("10.1.2.3")]"#, true),
        (#"principal.groups contains "sre""#, true), (#"principal.groups contains "dba""#, false),
        (#"principal.groups contains_any ["dba", "sre"]"#, true), (#"principal.groups contains_any ["dba"]"#, false),
        ("principal.groups contains_any []", false), ("principal.groups contains_all []", true),
        (#"resource.tags contains_all ["pci"]"#, true), (#"resource.tags contains_all ["pci", "x"]"#, false),
        ("resource.tags contains_any principal.groups", false),
        (#"request.reason like "INC-*""#, true), (#"request.reason like "inc-*""#, false),
        (#"request.reason like "*debug*""#, true), (#"request.reason like "INC-42""#, false),
        (#"request.reason like "*""#, true), (#"request.reason like "INC-*-*""#, false),
        ("principal has mfa_age", true), ("request has ticket", false),
        ("not request.break_glass", true), ("true and false", false), ("false or true", true),
    ])
    func operators(expression: String, expected: Bool) throws {
        #expect(try holds(expression) == expected)
    }

    @Test func likeWithEscapedStar() throws {
        let input = baseInput { $0[.request, "reason"] = .string("a*b") }
        #expect(try holds(#"request.reason like "a\*b""#, input))
        #expect(try holds(#"request.reason like "a\**""#, input))
        #expect(try !holds(#"request.reason like "a\*""#, input))
        let other = baseInput { $0[.request, "reason"] = .string("axb") }
        #expect(try !holds(#"request.reason like "a\*b""#, other))
        #expect(try holds(#"request.reason like "a*b""#, other))
    }

    @Test func shortCircuitAvoidsErrors() throws {
        let absent = baseInput { $0[.principal, "mfa_age"] = nil }
        #expect(try !holds("principal has mfa_age and principal.mfa_age < 15m", absent))
        #expect(try holds("not (principal has mfa_age) or principal.mfa_age < 15m", absent))
        let set = try loadPolicies(#"""
            attribute principal.department: String
            forbid "f" when false and principal.department == "x";
            forbid "g" when true or principal.department == "x";
            forbid "h" when false when principal.department == "x";
            forbid "i" unless true unless principal.department == "x";
            """#)
        let decision = set.evaluate(baseInput())
        #expect(decision.rules == ["g"])
        #expect(decision.errors.isEmpty)
    }

    @Test func forbidErrorFailsClosed() throws {
        let set = try loadPolicies(#"""
            attribute principal.department: String
            forbid "not-eng" when principal.department != "eng" notify "sec";
            permit "all" when true notify "ops";
            """#)
        let decision = set.evaluate(baseInput())
        #expect(decision.outcome == .deny)
        #expect(decision.rules == ["not-eng"])
        #expect(decision.notify == ["sec"])
        #expect(decision.errors == [Decision.RuleError(rule: "not-eng", message: "attribute `principal.department` is absent")])
        let withDepartment = baseInput { $0[.principal, "department"] = .string("eng") }
        #expect(set.evaluate(withDepartment).outcome == .permit)
    }

    @Test func permitErrorsAreHiddenOnPermitAndShownOtherwise() throws {
        let set = try loadPolicies(#"""
            attribute principal.department: String
            permit "by-department" when principal.department == "eng";
            permit "sre" when "sre" in principal.groups;
            require_approval "approval" when principal.department == "x" approvers group("g");
            """#)
        let permitted = set.evaluate(baseInput())
        #expect(permitted.outcome == .permit)
        #expect(permitted.rules == ["sre"])
        #expect(permitted.errors.isEmpty)
        let denied = set.evaluate(baseInput { $0[.principal, "groups"] = .set([]) })
        #expect(denied.outcome == .deny)
        #expect(denied.rules.isEmpty)
        #expect(denied.errors.map(\.rule) == ["approval", "by-department"])
    }

    @Test func builtInAttributeAbsentIsARuntimeError() throws {
        let set = try loadPolicies(#"forbid "low-sensitivity" when resource.sensitivity < 3;"#)
        let decision = set.evaluate(baseInput { $0[.resource, "sensitivity"] = nil })
        #expect(decision.outcome == .deny)
        #expect(decision.errors.map(\.message) == ["attribute `resource.sensitivity` is absent"])
    }

    @Test(arguments: [
        // request ttl, caps of applying permits, expected
        (Int64(1_800), ["1h"], Int64(1_800)), (7_200, ["1h"], 3_600), (7_200, ["30m", "2h"], 7_200),
        (7_200, ["none"], 3_600), (60, ["30m", "none"], 60),
    ])
    func permitTTL(requested: Int64, caps: [String], expected: Int64) throws {
        let text = caps.enumerated().map { index, cap in
            "permit \"p\(index)\" when true" + (cap == "none" ? "" : " ttl <= \(cap)") + ";"
        }.joined(separator: "\n")
        let set = try loadPolicies(text)
        #expect(set.evaluate(baseInput { $0[.request, "ttl"] = .duration(requested) }).ttlSeconds == expected)
    }

    @Test func absentRequestTTLGrantsTheCap() throws {
        let set = try loadPolicies(#"require_approval "a" approvers group("g") ttl <= 20m; require_approval "b" approvers group("h") ttl <= 10m;"#)
        let decision = set.evaluate(baseInput { $0[.request, "ttl"] = nil })
        #expect(decision.outcome == .pendingApproval)
        #expect(decision.ttlSeconds == 1_200)
        #expect(set.evaluate(baseInput()).ttlSeconds == 1_200)
        #expect(set.evaluate(baseInput { $0[.request, "ttl"] = .duration(300) }).ttlSeconds == 300)
    }

    @Test func approvalsAreAlternativesSortedByRuleIDWithRequirementsInWrittenOrder() throws {
        let set = try loadPolicies(#"""
            require_approval "z-rule" approvers group("security") count 1, group("db-owners") count 2 notify "sec";
            require_approval "a-rule" when true approvers group("leads") notify "leads", "sec";
            require_approval "never" when false approvers group("x");
            """#)
        let decision = set.evaluate(baseInput())
        #expect(decision.outcome == .pendingApproval)
        #expect(decision.rules == ["a-rule", "z-rule"])
        #expect(decision.approvals == [
            Decision.Approval(rule: "a-rule", requires: [.init(group: "leads", count: 1)]),
            Decision.Approval(rule: "z-rule", requires: [.init(group: "security", count: 1), .init(group: "db-owners", count: 2)]),
        ])
        #expect(decision.notify == ["leads", "sec"])
    }

    @Test func precedenceAndNotifyUnion() throws {
        let rules = [
            #"permit "p1" when true notify "ops", "b";"#,
            #"permit "p2" when true notify "a";"#,
            #"require_approval "r" when true approvers group("g") notify "r";"#,
            #"forbid "f" when request.break_glass notify "z";"#,
        ]
        let set = try loadPolicies(rules.joined(separator: "\n"))
        let permitted = set.evaluate(baseInput())
        #expect(permitted.outcome == .permit)
        #expect(permitted.rules == ["p1", "p2"])
        #expect(permitted.notify == ["a", "b", "ops"])
        #expect(permitted.approvals.isEmpty)
        let denied = set.evaluate(baseInput { $0[.request, "break_glass"] = .bool(true) })
        #expect(denied == Decision(outcome: .deny, ttlSeconds: nil, rules: ["f"], notify: ["z"]))
    }

    @Test(arguments: 0..<6)
    func ruleOrderDoesNotMatter(seed: Int) throws {
        var rules = [
            #"permit "b" when true ttl <= 10m notify "x";"#,
            #"permit "a" when "sre" in principal.groups ttl <= 20m notify "y";"#,
            #"require_approval "c" approvers group("g");"#,
            #"forbid "d" when risk.score > 50 notify "w";"#,
            #"attribute principal.team: String"#,
            #"forbid "e" when principal.team == "x";"#,
        ]
        var generator = SplitMix(seed: UInt64(seed))
        rules.shuffle(using: &generator)
        let set = try loadPolicies(rules.joined(separator: "\n"))
        let expectedDeny = Decision(outcome: .deny, ttlSeconds: nil, rules: ["e"], errors: [
            .init(rule: "e", message: "attribute `principal.team` is absent"),
        ])
        #expect(set.evaluate(baseInput()) == expectedDeny)
        let permit = set.evaluate(baseInput { $0[.principal, "team"] = .string("y") })
        #expect(permit == Decision(outcome: .permit, ttlSeconds: 1_200, rules: ["a", "b"], notify: ["x", "y"]))
    }
}

/// A small deterministic generator for shuffles in tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
