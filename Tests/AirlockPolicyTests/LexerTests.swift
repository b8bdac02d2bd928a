import Testing

@testable import AirlockPolicy

@Suite("Lexer")
struct LexerTests {
    private func kinds(_ text: String) -> [Token.Kind] {
        Lexer.tokenize(SourceFile(name: "t", text: text)).tokens.map(\.kind)
    }

    private func messages(_ text: String) -> [String] {
        Lexer.tokenize(SourceFile(name: "t", text: text)).diagnostics.map(\.message)
    }

    @Test func tokensWithPositions() {
        let output = Lexer.tokenize(SourceFile(name: "f", text: "permit \"a\"\n  when x <= 15m; # note"))
        #expect(output.tokens.map(\.kind) == [
            .word("permit"), .string(StringLiteral(value: "a", pattern: GlobPattern(elements: [.literal("a")]), escapedStars: [])),
            .word("when"), .word("x"), .symbol(.lessOrEqual), .duration(900), .symbol(.semicolon), .end,
        ])
        #expect(output.tokens[2].location == SourceLocation(file: "f", line: 2, column: 3))
        #expect(output.tokens[5].location == SourceLocation(file: "f", line: 2, column: 13))
        #expect(output.comments.map(\.text) == ["# note"])
        #expect(output.diagnostics.isEmpty)
    }

    @Test(arguments: [
        ("30s", Int64(30)), ("15m", 900), ("1h", 3_600), ("2d", 172_800), ("1h30m", 5_400), ("1d2h3m4s", 93_784), ("0s", 0),
    ])
    func durations(text: String, seconds: Int64) {
        #expect(kinds(text) == [.duration(seconds), .end])
    }

    @Test(arguments: ["1m1h", "1h1h", "5x", "1h30", "15M", "1s2m"])
    func invalidDurations(text: String) {
        #expect(messages(text) == ["invalid duration `\(text)`: use the units d, h, m, s in that order, each at most once (e.g. `1h30m`)"])
    }

    @Test func integers() {
        #expect(kinds("42 -7 9223372036854775807 -9223372036854775808") == [
            .integer(42), .integer(-7), .integer(.max), .integer(.min), .end,
        ])
        #expect(messages("9223372036854775808") == ["integer `9223372036854775808` is out of range (64-bit)"])
        #expect(messages("-5m") == ["duration `-5m` cannot be negative"])
        #expect(messages("99999999999999999999d") == ["duration `99999999999999999999d` is out of range"])
    }

    @Test func stringEscapes() {
        guard case .string(let literal) = kinds(#""a\"b\\c\nd\*e*""#).first else {
            Issue.record("not a string")
            return
        }
        #expect(literal.value == "a\"b\\c\nd*e*")
        #expect(literal.pattern.elements == [.literal("a\"b\\c\nd*e"), .wildcard])
        #expect(literal.escapedStars.map(\.column) == [12])
        #expect(messages(#""a\tb""#) == [#"invalid escape `\t` in string; use `\"`, `\\` or `\n`"#])
        #expect(messages("\"abc\nx") == ["unterminated string: add a closing `\"` on the same line"])
    }

    @Test func badCharacters() {
        #expect(messages("a = b") == ["unexpected `=`; did you mean `==`?"])
        #expect(messages("a @ b") == ["unexpected character `@`"])
        #expect(kinds("a ! b").contains(.invalid))
    }
}
