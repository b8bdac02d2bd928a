import Testing

@testable import AirlockPolicy

/// Formats `text`, recording an issue with the diagnostics when it is refused.
func formatted(_ text: String, file: String = "test.airlock") throws -> String {
    switch AirlockPolicy.Formatter.format(SourceFile(name: file, text: text)) {
    case .success(let output):
        return output
    case .failure(let error):
        Issue.record("unexpected format failure:\n\(error)")
        throw error
    }
}

/// Checks the formatter's promises on `text`: idempotent, same AST (locations aside), same comments in order.
func expectFormatterInvariants(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let once = try formatted(text)
    let twice = try formatted(once)
    #expect(twice == once, "not idempotent for:\n\(text)\n--- once:\n\(once)\n--- twice:\n\(twice)",
        sourceLocation: sourceLocation)
    let before = Parser.parse(SourceFile(name: "a", text: text)).file
    let after = Parser.parse(SourceFile(name: "a", text: once)).file
    #expect(after.items.map(\.locationFree) == before.items.map(\.locationFree),
        "meaning changed for:\n\(text)\n--- formatted:\n\(once)", sourceLocation: sourceLocation)
    #expect(after.comments.map(FormatLayout.text(of:)) == before.comments.map(FormatLayout.text(of:)),
        "comments changed for:\n\(text)\n--- formatted:\n\(once)", sourceLocation: sourceLocation)
}

private let nowhere = AirlockPolicy.SourceLocation(file: "", line: 0, column: 0)

extension Expression {
    /// The expression with every location replaced by one placeholder, to compare meaning.
    var locationFree: Expression {
        let kind: Kind
        switch self.kind {
        case .literal, .attribute, .has: kind = self.kind
        case .list(let elements): kind = .list(elements.map(\.locationFree))
        case .not(let operand): kind = .not(operand.locationFree)
        case .and(let operands): kind = .and(operands.map(\.locationFree))
        case .or(let operands): kind = .or(operands.map(\.locationFree))
        case .comparison(let op, let left, let right, _):
            kind = .comparison(op, left.locationFree, right.locationFree, operatorLocation: nowhere)
        case .like(let left, let pattern, _): kind = .like(left.locationFree, pattern, operatorLocation: nowhere)
        }
        return Expression(kind, at: nowhere)
    }
}

extension PolicyFile.Item {
    /// The item with every location replaced by one placeholder, to compare meaning.
    var locationFree: PolicyFile.Item {
        switch self {
        case .declaration(let declaration):
            return .declaration(AttributeDeclaration(path: declaration.path, type: declaration.type, location: nowhere,
                pathLocation: nowhere))
        case .rule(let rule):
            let clauses = rule.clauses.map { clause -> Clause in
                switch clause.kind {
                case .when(let expression): Clause(.when(expression.locationFree), at: nowhere)
                case .unless(let expression): Clause(.unless(expression.locationFree), at: nowhere)
                case .approvers(let requirements):
                    Clause(.approvers(requirements.map {
                        let approvers: ApprovalRequirement.Approvers = switch $0.approvers {
                        case .group: $0.approvers
                        case .groupNamedBy(let path, _): .groupNamedBy(path, location: nowhere)
                        case .userNamedBy(let path, _): .userNamedBy(path, location: nowhere)
                        }
                        return ApprovalRequirement(
                            approvers, count: $0.count, includesServices: $0.includesServices, location: nowhere)
                    }), at: nowhere)
                case .ttl, .notify: Clause(clause.kind, at: nowhere)
                }
            }
            return .rule(Rule(effect: rule.effect, id: rule.id, location: nowhere, idLocation: nowhere, clauses: clauses))
        }
    }
}

@Suite("Formatter: layout")
struct FormatterTests {
    @Test func formatsTheReferenceExample() throws {
        let expected = #"""
            # Site reliability engineers: read-only production access, automatically at low risk.
            permit "sre-prod-readonly"
              when "sre" in principal.groups
               and resource.env == "prod"
               and request.role == "readonly"
               and risk.score < 30
               and principal has mfa_age
               and principal.mfa_age <= 15m
              ttl <= 1h;

            require_approval "prod-write"
              when principal.groups contains_any ["backend", "dba"]
               and resource.env == "prod"
               and request.role == "readwrite"
              approvers group("db-owners") count 2, group("security") count 1
              ttl <= 30m
              notify "security";

            forbid "high-risk"
              when risk.score >= 70
              notify "security";

            forbid "outside-corporate-network"
              unless request.source_ip in cidr("10.0.0.0/8") or request.source_ip in cidr("192.168.0.0/16");

            permit "break-glass"
              when request.break_glass and principal.on_call and request.reason like "INC-*"
              ttl <= 1h
              notify "security", "break-glass";

            """#
        #expect(try formatted(examplePolicy) == expected)
        try expectFormatterInvariants(examplePolicy)
    }

    @Test func canonicalisesSpacingLiteralsAndParentheses() throws {
        let source = #"""
            permit   "x"   when((risk.score<30))and request.ttl<=90m   ttl<=1h30m notify "a","b" ;
            forbid "y" unless request.source_ip in cidr("10.1.2.3/8") or (not (principal.on_call));
            require_approval "z" approvers group("g"), group("h") count 3;
            """#
        let expected = #"""
            permit "x"
              when risk.score < 30 and request.ttl <= 1h30m
              ttl <= 1h30m
              notify "a", "b";

            forbid "y"
              unless request.source_ip in cidr("10.0.0.0/8") or not principal.on_call;

            require_approval "z"
              approvers group("g") count 1, group("h") count 3;

            """#
        #expect(try formatted(source) == expected)
    }

    @Test func keepsNeededParenthesesAndEscapes() throws {
        let source = #"""
            permit "a \"quoted\" \\ id"
              when (principal.on_call or request.break_glass) and not (risk.score > 5 and risk.score < 9)
              when (principal has mfa_age) == true and request.reason like "lit\*eral*\n"
              unless resource.tags contains_all ["a", "b\"c"] and risk.score == -9223372036854775808;
            """#
        let expected = #"""
            permit "a \"quoted\" \\ id"
              when (principal.on_call or request.break_glass) and not (risk.score > 5 and risk.score < 9)
              when (principal has mfa_age) == true and request.reason like "lit\*eral*\n"
              unless resource.tags contains_all ["a", "b\"c"] and risk.score == -9223372036854775808;

            """#
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func keepsParenthesesAfterNotAroundComparisons() throws {
        let source = #"permit "p" when not risk.score in [1] and not (principal has mfa_age) and not not (principal.on_call);"#
        #expect(try formatted(source) == #"""
            permit "p"
              when not (risk.score in [1]) and not (principal has mfa_age) and not not principal.on_call;

            """#)
        try expectFormatterInvariants(source)
    }

    @Test func breaksLongChainsWithTheConnectiveUnderTheKeyword() throws {
        let source = """
            forbid "f" unless request.reason like "INC-*" or request.reason like "CHG-*" or request.reason like "SEC-*" or request.break_glass;
            permit "p" when principal.groups contains_any ["a-very-long-group-name", "another-long-group-name"] and (risk.score < 10 or principal.on_call);
            """
        let expected = """
            forbid "f"
              unless request.reason like "INC-*"
                  or request.reason like "CHG-*"
                  or request.reason like "SEC-*"
                  or request.break_glass;

            permit "p"
              when principal.groups contains_any ["a-very-long-group-name", "another-long-group-name"]
               and (risk.score < 10 or principal.on_call);

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func groupsDeclarationsAndSeparatesRules() throws {
        let source = """
            attribute principal.department: String;
            attribute resource.pci: Bool?


            attribute request.labels: Set<String>
            permit "a";
            permit "b"
            ;
            attribute risk.model: String
            """
        let expected = """
            attribute principal.department: String
            attribute resource.pci: Bool?

            attribute request.labels: Set<String>

            permit "a";

            permit "b";

            attribute risk.model: String

            """
        #expect(try formatted(source) == expected)
    }

    @Test(arguments: ["", "\n\n", "   \n"])
    func emptyFilesStayEmpty(_ source: String) throws {
        #expect(try formatted(source) == "")
    }

    @Test func refusesFilesWithSyntaxErrors() throws {
        let source = "permit \"a\" when risk.score < 30\npermit \"b\" when risk.score = 3;\n"
        guard case .failure(let error) = AirlockPolicy.Formatter.format(SourceFile(name: "bad.airlock", text: source)) else {
            Issue.record("a broken file was formatted")
            return
        }
        #expect(error.diagnostics.count == 2)
        #expect(error.description.contains("bad.airlock:2:28: error:"))
        #expect(error.description.contains("^"))
        #expect(AirlockPolicy.Formatter.isFormatted(SourceFile(name: "bad.airlock", text: source)).isFailure)
    }

    @Test func ignoresSchemaErrorsThatCheckReports() throws {
        #expect(try formatted("permit \"a\" when principal.grops contains \"x\";") ==
            "permit \"a\"\n  when principal.grops contains \"x\";\n")
    }

    @Test func reportsWhetherAFileIsFormatted() throws {
        let canonical = "permit \"a\";\n"
        #expect(AirlockPolicy.Formatter.isFormatted(SourceFile(name: "a", text: canonical)) == .success(true))
        #expect(AirlockPolicy.Formatter.isFormatted(SourceFile(name: "a", text: "permit \"a\" ;")) == .success(false))
    }

    @Test func keepsDeeplyNestedExpressions() throws {
        let depth = 64
        try expectFormatterInvariants("permit \"parens\" when " + String(repeating: "(", count: depth) + "principal.on_call"
            + String(repeating: ")", count: depth) + ";")
        try expectFormatterInvariants("permit \"nots\" when " + String(repeating: "not (", count: 40) + "principal.on_call"
            + String(repeating: ")", count: 40) + ";")
        for levels in [98, 99] {
            let lists = String(repeating: "[", count: levels) + "not risk.score == 1" + String(repeating: "]", count: levels)
            try expectFormatterInvariants("permit \"edge\" when \"x\" in \(lists);")
        }
        let listDepth = String(repeating: "[", count: 60) + "\"x\"" + String(repeating: "]", count: 60)
        try expectFormatterInvariants("permit \"lists\" when \"x\" in \(listDepth);")
    }
}

extension Result {
    /// Whether this is a failure.
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
