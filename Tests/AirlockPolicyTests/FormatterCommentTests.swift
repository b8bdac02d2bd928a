import Testing

@testable import AirlockPolicy

@Suite("Formatter: comments")
struct FormatterCommentTests {
    @Test func keepsOwnLineAndTrailingCommentsInPlace() throws {
        let source = """
            # Policies for the payments team.
            # Owner: payments.

            # Schema additions.
            attribute principal.department: String   # from the HR feed
            # pci marks card-data systems
            attribute resource.pci: Bool?
            # Read-only access.
            permit "ro" # safe
              # only engineers
              when principal.department == "eng"   # HR value
              # short grants
              ttl <= 1h; # end of ro
            # trailing remark

            # last words
            """
        let expected = """
            # Policies for the payments team.
            # Owner: payments.

            # Schema additions.
            attribute principal.department: String # from the HR feed
            # pci marks card-data systems
            attribute resource.pci: Bool?

            # Read-only access.
            permit "ro" # safe
              # only engineers
              when principal.department == "eng" # HR value
              # short grants
              ttl <= 1h; # end of ro
            # trailing remark

            # last words

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func aCommentOnAChainOperandKeepsTheChainBroken() throws {
        let source = """
            permit "p"
              when risk.score < 30 # low risk
               and principal.on_call
               # while on call only
               and request.hour < 18;
            """
        let expected = """
            permit "p"
              when risk.score < 30 # low risk
               and principal.on_call
               # while on call only
               and request.hour < 18;

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func aCommentAfterTheWholeChainLetsItJoin() throws {
        let source = "permit \"p\"\n  when risk.score < 30\n   and principal.on_call; # short enough\n"
        #expect(try formatted(source) == "permit \"p\"\n  when risk.score < 30 and principal.on_call; # short enough\n")
        try expectFormatterInvariants(source)
    }

    @Test func commentsInsideParenthesesMoveAboveTheJoinedLine() throws {
        let source = """
            forbid "f"
              when not (risk.score < 30 # first
                or principal.on_call) # second
              notify "sec";
            """
        let expected = """
            forbid "f"
              # first
              when not (risk.score < 30 or principal.on_call) # second
              notify "sec";

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func commentsBetweenTheParenthesisAndTheOperandStayWithTheOperand() throws {
        let source = """
            permit "p"
              when principal.on_call and
                # the reason check
                (request.reason like "INC-*" or request.break_glass);
            """
        let expected = """
            permit "p"
              when principal.on_call
               # the reason check
               and (request.reason like "INC-*" or request.break_glass);

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test func severalRulesOnOneLineKeepTheirComments() throws {
        let source = "permit \"a\"; permit \"b\"; # about b\n# about c\npermit \"c\" when principal.on_call ; # c\n"
        let expected = """
            permit "a";

            permit "b"; # about b

            # about c
            permit "c"
              when principal.on_call; # c

            """
        #expect(try formatted(source) == expected)
        try expectFormatterInvariants(source)
    }

    @Test(arguments: ["# only a comment", "# one\n\n\n# two\n", "\n\n# late\n"])
    func commentOnlyFiles(_ source: String) throws {
        let output = try formatted(source)
        #expect(!output.hasPrefix("\n"))
        #expect(!output.contains("\n\n\n"))
        try expectFormatterInvariants(source)
    }

    @Test func windowsLineEndingsAndTabs() throws {
        let source = "# header\r\n\tpermit \"a\"\t# tab\t\r\n\twhen risk.score < 3;\r\n"
        #expect(try formatted(source) == "# header\npermit \"a\" # tab\n  when risk.score < 3;\n")
        try expectFormatterInvariants(source)
    }

    @Test func commentCharactersInsideStringsAreNotComments() throws {
        let source = "permit \"#not-a-comment\" when request.reason == \"a # b\"; # real\n"
        #expect(try formatted(source) == "permit \"#not-a-comment\"\n  when request.reason == \"a # b\"; # real\n")
    }
}
