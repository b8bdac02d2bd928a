import Testing

@testable import AirlockPolicy

@Suite("Parser")
struct ParserTests {
    private func parse(_ text: String) -> Parser.Output {
        Parser.parse(SourceFile(name: "p.airlock", text: text))
    }

    @Test func parsesTheExamplePolicy() throws {
        let output = parse(examplePolicy)
        #expect(output.diagnostics.isEmpty)
        let rules = output.file.rules
        #expect(rules.map(\.id) == ["sre-prod-readonly", "prod-write", "high-risk", "outside-corporate-network", "break-glass"])
        #expect(rules.map(\.effect) == [.permit, .requireApproval, .forbid, .forbid, .permit])
        #expect(rules[1].approvers.map(\.fixedGroup) == ["db-owners", "security"])
        #expect(rules[1].approvers.map(\.count) == [2, 1])
        #expect(rules[1].ttlSeconds == 1_800)
        #expect(rules[2].ttlSeconds == Rule.defaultTTLSeconds)
        #expect(rules[4].notify == ["security", "break-glass"])
        #expect(rules[3].conditions.map(\.polarity) == [.unless])
        #expect(rules[0].location == SourceLocation(file: "p.airlock", line: 2, column: 1))
        #expect(rules[0].idLocation.column == 8)
    }

    @Test func andChainsAreFlatAndPrecedenceIsOrAndNot() throws {
        let rule = try #require(parse(#"permit "a" when request.break_glass or not principal.on_call and risk.score < 3 and true;"#).file.rules.first)
        let expression = try #require(rule.conditions.first?.expression)
        guard case .or(let operands) = expression.kind, operands.count == 2,
            case .and(let conjuncts) = operands[1].kind, conjuncts.count == 3,
            case .not = conjuncts[0].kind
        else {
            Issue.record("unexpected shape: \(expression)")
            return
        }
        #expect(expression.description == "request.break_glass or not principal.on_call and risk.score < 3 and true")
    }

    @Test func parenthesesAndLiterals() throws {
        let text = #"permit "a" when (request.source_ip in [cidr("10.1.2.3/8"), ip("::1")]) and not (risk.score == -3 or request.ttl > 1h30m);"#
        let output = parse(text)
        #expect(output.diagnostics.isEmpty)
        let expression = try #require(output.file.rules.first?.conditions.first?.expression)
        #expect(expression.description
            == #"request.source_ip in [cidr("10.0.0.0/8"), ip("::1")] and not (risk.score == -3 or request.ttl > 1h30m)"#)
    }

    @Test func declarations() {
        let output = parse("attribute principal.department: String\nattribute resource.pci: Bool?;\nattribute resource.labels: Set<String>?")
        #expect(output.diagnostics.isEmpty)
        #expect(output.file.declarations.map(\.path.description) == ["principal.department", "resource.pci", "resource.labels"])
        #expect(output.file.declarations.map(\.type) == [
            AttributeType(.string), AttributeType(.bool, optional: true), AttributeType(.stringSet, optional: true),
        ])
        #expect(parse("attribute principal.x: Strng").diagnostics.map(\.message)
            == ["unknown type `Strng`; use one of `String`, `Int`, `Bool`, `Duration`, `IP`, `Set<String>`; did you mean `String`?"])
    }

    @Test func recoversAndReportsEveryError() {
        let text = """
            permit "a" when risk.score < ;
            permti "b" when true;
            forbid "c" when resource.env == "prod" and and;
            permit "d" when true ttl <= 5;
            permit "ok" when true;
            forbid "e" whne true;
            permit "f" when true
            permit "g" when true;
            """
        let output = parse(text)
        #expect(output.diagnostics.map(\.location.line) == [1, 2, 3, 4, 6, 8])
        #expect(output.diagnostics.map(\.message) == [
            "expected an expression, found `;`",
            "expected a rule (`permit`, `forbid`, `require_approval`) or an `attribute` declaration, found `permti`; did you mean `permit`?",
            "expected an expression, found `and`",
            "expected a duration such as `30m` after `ttl <=`, found `5`",
            "expected `when`, `unless`, `ttl`, `approvers`, `notify` or `;`, found `whne`; did you mean `when`?",
            "expected `;` at the end of rule `f` before `permit`",
        ])
        #expect(output.file.rules.map(\.id) == ["ok", "g"])
    }

    @Test func diagnosticRendering() {
        let diagnostics = loadDiagnostics("permit \"a\"\n\twhen risk.scor < 3;", file: "Policies/a.airlock")
        #expect(diagnostics.count == 1)
        let rendered = diagnostics.first?.description
        #expect(rendered == """
            Policies/a.airlock:2:7: error: unknown attribute `risk.scor`; did you mean `risk.score`?
            \twhen risk.scor < 3;
            \t     ^
            """)
    }

    @Test(arguments: [
        (#"permit "a" when risk.score < 3 < 4;"#, "comparisons cannot be chained; combine them with `and` or group with parentheses"),
        (#"permit "a" when user.id == "x";"#, "unknown entity `user`; expected `principal`, `resource`, `request` or `risk`"),
        (#"permit "a" when principal == "x";"#, "expected `.` or `has` after `principal`, found `==`"),
        (#"permit "a" when principal.a.b;"#, "attributes have one level: `principal.a` has no attributes"),
        (#"permit "a" when request.reason like request.id;"#, "expected a string literal pattern after `like`, found `request`"),
        (#"permit "a" when request.source_ip in cidr("10.0.0.0/33");"#, "invalid CIDR `10.0.0.0/33`; expected an address and a prefix length such as `10.0.0.0/8`"),
        (#"permit "a" when request.source_ip == ip("10.0.0.256");"#, "invalid IP address `10.0.0.256`"),
        (#"permit "a" when request.reason == "a\*";"#, "escape `\\*` is only allowed in the pattern of `like`; write `*`"),
        (#"require_approval "a" approvers group("x") count 0;"#, "`count 0` must be at least 1"),
        (#"permit "a" when (risk.score < 3;"#, "expected `)` to close the `(` at line 1, column 17, found `;`"),
        (#"permit "a" when ture;"#, "unknown name `ture`; expected an attribute such as `principal.id`, a literal, `ip(...)` or `cidr(...)`; did you mean `true`?"),
        (#"permit "a" when risk.score < 3"#, "expected `when`, `unless`, `ttl`, `approvers`, `notify` or `;`, found end of file"),
    ])
    func syntaxErrors(text: String, message: String) {
        #expect(parse(text).diagnostics.map(\.message) == [message])
    }

    @Test(arguments: [1, 64, 100, 128])
    func acceptedNesting(depth: Int) {
        let parens = String(repeating: "(", count: depth) + "risk.score < 3" + String(repeating: ")", count: depth)
        #expect(loadDiagnostics("permit \"a\" when \(parens);").isEmpty)
        let nots = String(repeating: "not ", count: depth) + "true"
        #expect(loadDiagnostics("permit \"a\" when \(nots);").isEmpty)
        let nested = (0..<depth).reduce("true") { inner, _ in "(true and \(inner))" }
        #expect(loadDiagnostics("permit \"a\" when \(nested);").isEmpty)
    }

    @Test func sixtyFourNestedNegationsWithParenthesesAreAccepted() {
        let nested = (0..<64).reduce("risk.score < 3") { inner, _ in "not (\(inner))" }
        #expect(loadDiagnostics("permit \"a\" when \(nested);").isEmpty)
    }

    @Test(arguments: [129, 200, 10_000])
    func tooDeepNestingIsAnErrorNotACrash(depth: Int) {
        let parens = String(repeating: "(", count: depth) + "true" + String(repeating: ")", count: depth)
        let diagnostics = loadDiagnostics("permit \"a\" when \(parens);\npermit \"b\" when nope;")
        #expect(diagnostics.map(\.message) == [
            "expression is nested too deeply (more than 128 levels)",
            "unknown name `nope`; expected an attribute such as `principal.id`, a literal, `ip(...)` or `cidr(...)`",
        ])
        let brackets = String(repeating: "[", count: depth)
        #expect(loadDiagnostics("permit \"a\" when \"x\" in \(brackets);").map(\.message)
            == ["expression is nested too deeply (more than 128 levels)"])
    }

    @Test func longFlatChainsAreFine() throws {
        let chain = Array(repeating: "risk.score < 30", count: 5_000).joined(separator: " and ")
        let set = try loadPolicies("permit \"a\" when \(chain);")
        #expect(set.evaluate(baseInput()).outcome == .permit)
    }

    @Test func errorsAreCappedAndSorted() {
        let text = (1...80).map { "permit \"r\($0)\" when nope\($0);" }.joined(separator: "\n")
        guard case .failure(let error) = PolicySet.load(sources: [SourceFile(name: "x.airlock", text: text)]) else {
            Issue.record("loaded")
            return
        }
        #expect(error.diagnostics.count == 50)
        #expect(error.omittedCount == 30)
        #expect(error.diagnostics.map(\.location.line) == Array(1...50))
        #expect(error.description.hasSuffix("30 more errors not shown"))
    }
}
