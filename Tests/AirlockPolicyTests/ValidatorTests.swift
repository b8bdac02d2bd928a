import Testing

@testable import AirlockPolicy

@Suite("Validator")
struct ValidatorTests {
    private func messages(_ text: String) -> [String] {
        loadDiagnostics(text).map(\.message)
    }

    @Test(arguments: [
        (#"permit "a" when principal.grops contains "x";"#, "unknown attribute `principal.grops`; did you mean `principal.groups`?"),
        (#"permit "a" when principal.env == "prod";"#, "unknown attribute `principal.env`; did you mean `resource.env`?"),
        (#"permit "a" when principal has mfa_ag;"#, "unknown attribute `principal.mfa_ag`; did you mean `principal.mfa_age`?"),
        (#"permit "a" when principal.zzzzzz == "x";"#, "unknown attribute `principal.zzzzzz`"),
    ])
    func unknownAttributes(text: String, message: String) {
        #expect(messages(text) == [message])
    }

    @Test(arguments: [
        (#"permit "a" when risk.score == "high";"#, "cannot compare with `==`: `risk.score` is Int and `\"high\"` is String"),
        (#"permit "a" when risk.score < 15m;"#, "`<` compares two Int or two Duration values: `risk.score` is Int and `15m` is Duration"),
        (#"permit "a" when request.role < "b";"#, "`<` compares two Int or two Duration values: `request.role` is String and `\"b\"` is String"),
        (#"permit "a" when principal.groups == ["a"];"#, "cannot compare with `==`: `principal.groups` is Set<String> and `[\"a\"]` is a list of String"),
        (#"permit "a" when principal.groups contains 3;"#, "`contains` needs a set or list and an element of that type: `principal.groups` is Set<String> and `3` is Int"),
        (#"permit "a" when risk.score in ["a"];"#, "`in` needs an element and a list or set of that type, or an IP and a CIDR: `risk.score` is Int and `[\"a\"]` is a list of String"),
        (#"permit "a" when request.role in cidr("10.0.0.0/8");"#, "`in` needs an element and a list or set of that type, or an IP and a CIDR: `request.role` is String and `cidr(\"10.0.0.0/8\")` is CIDR"),
        (#"permit "a" when risk.signals contains_any [1];"#, "`contains_any` needs two sets or lists with elements of one type: `risk.signals` is Set<String> and `[1]` is a list of Int"),
        (#"permit "a" when risk.score like "1*";"#, "`like` matches strings, but `risk.score` is Int"),
        (#"permit "a" when risk.score;"#, "`when` needs a condition that is true or false; `risk.score` is Int"),
        (#"permit "a" when true and request.role;"#, "`and` needs a condition that is true or false; `request.role` is String"),
        (#"permit "a" when not risk.signals;"#, "`not` needs a condition that is true or false; `risk.signals` is Set<String>"),
        (#"permit "a" when "x" in ["a", 1];"#, "list elements must all have one type: `1` is Int, the first element is String"),
    ])
    func typeErrors(text: String, message: String) {
        #expect(messages(text) == [message])
    }

    @Test(arguments: [
        #"permit "a" when request.source_ip in [cidr("10.0.0.0/8"), cidr("fd00::/8")];"#,
        #"permit "a" when request.source_ip in [ip("10.0.0.1")] and request.source_ip != ip("::1");"#,
        #"permit "a" when resource.tags contains_all principal.groups and [] contains_any risk.signals;"#,
        #"permit "a" when request.ttl > 0s and request.hour >= -1 and request.break_glass == false;"#,
        #"permit "a" when "x" in [] and resource.sensitivity in [1, 2];"#,
    ])
    func wellTypedExpressions(text: String) {
        #expect(messages(text) == [])
    }

    @Test func duplicateIdIsReportedAtTheSecondOccurrence() {
        let sources = [
            SourceFile(name: "b.airlock", text: "permit \"x\" when true;"),
            SourceFile(name: "a.airlock", text: "\n\nforbid \"x\";"),
        ]
        guard case .failure(let error) = PolicySet.load(sources: sources) else {
            Issue.record("loaded")
            return
        }
        #expect(error.diagnostics.map(\.description) == ["""
            b.airlock:1:8: error: duplicate rule id `x`; it is first defined at a.airlock:3:8
            permit "x" when true;
                   ^
            """])
    }

    @Test(arguments: [
        (#"permit "a" approvers group("x");"#, "`approvers` is only allowed in `require_approval` rules"),
        (#"forbid "a" approvers group("x");"#, "`approvers` is only allowed in `require_approval` rules"),
        (#"require_approval "a" when true;"#, "`require_approval` rule `a` needs an `approvers` clause"),
        (#"forbid "a" ttl <= 1h;"#, "`ttl` is not allowed on a `forbid` rule"),
        (#"permit "a" ttl <= 0s;"#, "`ttl` must be longer than `0s`"),
        (#"permit "a" ttl <= 1h ttl <= 2h;"#, "rule `a` has more than one `ttl` clause"),
        (#"permit "a" notify "x" notify "y";"#, "rule `a` has more than one `notify` clause"),
        (#"require_approval "a" approvers group("x") approvers group("y");"#, "rule `a` has more than one `approvers` clause"),
        (#"require_approval "a" approvers group("x"), group("x") count 2;"#, "group `x` is listed twice; use one requirement with a larger `count`"),
        (#"permit "";"#, "rule id must not be empty"),
    ])
    func clauseErrors(text: String, message: String) {
        #expect(messages(text) == [message])
    }

    @Test func repeatedWhenAndUnlessAreFine() {
        #expect(messages(#"permit "a" when true unless false when risk.score < 3 unless request.break_glass;"#) == [])
    }

    @Test func schemaDeclarations() throws {
        let set = try loadPolicies("""
            permit "a" when principal.department == "eng" and resource has pci and resource.pci;
            attribute principal.department: String
            attribute resource.pci: Bool?
            """)
        #expect(set.schema[AttributePath(.principal, "department")] == AttributeType(.string))
        #expect(set.schema[AttributePath(.resource, "pci")] == AttributeType(.bool, optional: true))
        #expect(messages("attribute principal.department: String\nattribute principal.department: Int")
            == ["attribute `principal.department` is already declared"])
        #expect(messages("attribute principal.id: String") == ["attribute `principal.id` is built in and cannot be redeclared"])
        let acrossFiles = PolicySet.load(sources: [
            SourceFile(name: "rules.airlock", text: "permit \"a\" when principal.department == \"x\";"),
            SourceFile(name: "schema.airlock", text: "attribute principal.department: String"),
        ])
        #expect((try? acrossFiles.get()) != nil)
    }

    @Test(arguments: [
        "principal has mfa_age and principal.mfa_age < 15m",
        "not (principal has mfa_age) or principal.mfa_age < 15m",
        "(principal has mfa_age and true) and principal.mfa_age < 15m",
        "(principal has mfa_age or principal has mfa_age) and principal.mfa_age < 15m",
        "principal has mfa_age and (risk.score < 3 or principal.mfa_age < 15m)",
        "not (not (principal has mfa_age) or risk.score > 3) and principal.mfa_age < 15m",
    ])
    func guardedReads(condition: String) {
        #expect(messages("permit \"a\" when \(condition);") == [])
    }

    @Test func guardsFlowAcrossClauses() {
        #expect(messages(#"permit "a" when principal has email when principal.email like "*@corp.com";"#) == [])
        #expect(messages(#"permit "a" unless not (principal has email) when principal.email == "x";"#) == [])
        #expect(messages(#"permit "a" unless principal has email when principal.email == "x";"#)
            == ["`principal.email` is optional and may be absent; test `principal has email` first, as in `principal has email and principal.email ...`"])
        #expect(messages(#"permit "a" when principal.email == "x" when principal has email;"#).count == 1)
    }

    @Test(arguments: [
        "principal.mfa_age < 15m",
        "principal has mfa_age or principal.mfa_age < 15m",
        "principal.mfa_age < 15m and principal has mfa_age",
        "(principal has mfa_age or risk.score > 3) and principal.mfa_age < 15m",
        "not (principal has mfa_age) and principal.mfa_age < 15m",
        "principal has email and principal.mfa_age < 15m",
        "request has ticket and principal.mfa_age < 15m",
    ])
    func unguardedReads(condition: String) {
        #expect(messages("permit \"a\" when \(condition);")
            == ["`principal.mfa_age` is optional and may be absent; test `principal has mfa_age` first, as in `principal has mfa_age and principal.mfa_age ...`"])
    }

    @Test func everyErrorOfASetIsReportedAndTheSetIsNotLoaded() {
        let diagnostics = loadDiagnostics("""
            permit "a" when risk.score == "x";
            permit "b" when principal.mfa_age < 1h and request.hour < 1m;
            permit "a" when principal.nme == "x";
            """)
        #expect(diagnostics.map(\.location.line) == [1, 2, 2, 3, 3])
    }

    @Test func emptySetLoadsAndDenies() throws {
        let set = try loadPolicies("# nothing yet\n")
        #expect(set.rules.isEmpty)
        #expect(set.evaluate(baseInput()) == Decision.defaultDeny)
        #expect(PolicySet.empty.evaluate(EvaluationInput()).outcome == .deny)
    }
}
