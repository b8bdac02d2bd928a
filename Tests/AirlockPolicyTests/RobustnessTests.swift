import AirlockTestRandom
import Testing

@testable import AirlockPolicy

/// Thousands of mutated and random policy texts through the parser and validator: no crash, no hang
/// (each load must finish within a time bound), every diagnostic inside the input. Texts that still
/// load are also decided by the compiled and the reference evaluator, which must agree.
@Suite("Robustness of loading on mutated and random input")
struct RobustnessTests {
    /// The example of the policy language reference (POLICY-LANGUAGE.md), with two schema lines it mentions.
    static let specExample = """
        attribute principal.department: String
        attribute resource.pci: Bool?

        """ + examplePolicy

    /// Words, symbols and broken pieces that the mutations splice in and the token soup is made of.
    static let tokens: [String] = [
        "permit", "forbid", "require_approval", "attribute", "when", "unless", "ttl", "approvers", "notify",
        "group", "count", "and", "or", "not", "in", "contains", "contains_any", "contains_all", "like", "has",
        "true", "false", "ip", "cidr", "principal", "resource", "request", "risk", "groups", "mfa_age", "env",
        "department", "pci", "Set<String>", "String", "Bool?", "Duration", ".", ",", ";", ":", "?", "(", ")",
        "[", "]", "<", "<=", "==", "!=", ">", ">=", "=", "!", "*", "\\", "\"", "\"x\"", "\"INC-*\"", "\"a\\*b\"",
        "\"\\q\"", "\"unterminated", "42", "-7", "0", "99999999999999999999999", "15m", "1h30m", "1h1h", "30x",
        "2d", "0s", "#", "# comment\n", "\n", "\r\n", "\t", " ", "é", "🙂", "\u{0}", "\u{301}", "@", "$",
        "ip(\"10.1.2.3\")", "cidr(\"10.0.0.0/8\")", "cidr(\"::/129\")", "ip(\"999.1.1.1\")", "count 0", ";;",
    ]

    static let loadTimeBound = Duration.seconds(2)

    /// Loads `text` (as one file, or split into two), checking the time bound and every diagnostic's position.
    private static func check(_ text: String, split: Int? = nil, label: @autoclosure () -> String) {
        var sources = [SourceFile(name: "fuzz-a.airlock", text: text)]
        if let split {
            let scalars = Array(text.unicodeScalars)
            let cut = min(max(0, split), scalars.count)
            sources = [
                SourceFile(name: "fuzz-a.airlock", text: String(String.UnicodeScalarView(scalars[..<cut]))),
                SourceFile(name: "fuzz-b.airlock", text: String(String.UnicodeScalarView(scalars[cut...]))),
            ]
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = PolicySet.load(sources: sources)
        let elapsed = clock.now - start
        #expect(elapsed < loadTimeBound, "loading took \(elapsed): \(label())")
        switch result {
        case .failure(let error):
            #expect(!error.diagnostics.isEmpty, "a failed load without diagnostics: \(label())")
            for diagnostic in error.diagnostics {
                guard let source = sources.first(where: { $0.name == diagnostic.location.file }) else {
                    Issue.record("diagnostic in unknown file \(diagnostic.location.file): \(label())")
                    continue
                }
                let location = diagnostic.location
                // Lines as the lexer counts them: split at every `\n` scalar, a trailing `\r` dropped.
                let lines = source.text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                    line.last == "\r" ? String(String.UnicodeScalarView(line.dropLast())) : String(String.UnicodeScalarView(line))
                }
                let line = location.line >= 1 && location.line <= lines.count ? lines[location.line - 1] : nil
                let inside = line.map { location.column >= 1 && location.column <= $0.unicodeScalars.count + 1 } ?? false
                #expect(inside, "diagnostic outside the input: \(diagnostic)\n\(label())")
                guard let line else { continue }
                #expect(diagnostic.sourceLine == line, "\(diagnostic)\n\(label())")
            }
        case .success(let set):
            var random = SplitMix64(seed: UInt64(truncatingIfNeeded: text.unicodeScalars.count))
            for _ in 0..<2 {
                let input = RandomInputWriter.input(using: &random)
                #expect(set.evaluate(input) == Evaluator(rules: set.rules).decide(input), "\(label())")
            }
        }
    }

    @Test func specExampleLoads() {
        #expect(throws: Never.self) { try PolicySet.load(sources: [SourceFile(name: "x.airlock", text: Self.specExample)]).get() }
    }

    @Test(arguments: 0..<4)
    func mutatedSpecExample(seed: UInt64) {
        var random = SplitMix64(seed: 0x5EED_0000 + seed)
        let original = Array(Self.specExample.unicodeScalars)
        for round in 0..<750 {
            var scalars = original
            for _ in 0..<random.below(4) + 1 { Self.mutate(&scalars, using: &random) }
            let text = String(String.UnicodeScalarView(scalars))
            let split = random.chance(20) ? random.below(scalars.count + 1) : nil
            Self.check(text, split: split, label: "seed \(seed) round \(round):\n\(text)")
        }
    }

    @Test(arguments: 0..<2)
    func randomTokenSoup(seed: UInt64) {
        var random = SplitMix64(seed: 0x50_0000 + seed)
        for round in 0..<1_000 {
            let count = random.below(60) + 1
            let text = (0..<count).map { _ in random.pick(Self.tokens) + random.pick(["", " ", " ", "\n"]) }.joined()
            Self.check(text, label: "seed \(seed) round \(round):\n\(text)")
        }
    }

    @Test(arguments: [1, 63, 64, 65, 100, 101, 150, 2_000, 20_000])
    func deepNesting(depth: Int) {
        let parentheses = "permit \"p\" when " + String(repeating: "(", count: depth) + "true" + String(repeating: ")", count: depth) + ";"
        Self.check(parentheses, label: "\(depth) parentheses")
        let nots = "forbid \"f\" when " + String(repeating: "not ", count: depth) + "request.break_glass;"
        Self.check(nots, label: "\(depth) nots")
        let lists = "permit \"p\" when " + String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth) + " == 1;"
        Self.check(lists, label: "\(depth) lists")
        let unclosed = "permit \"p\" when " + String(repeating: "(", count: depth)
        Self.check(unclosed, label: "\(depth) unclosed")
    }

    @Test func longAndWideInputs() {
        let chain = "permit \"p\" when " + Array(repeating: "risk.score > 1", count: 3_000).joined(separator: " and ") + ";"
        Self.check(chain, label: "long and chain")
        let rules = (0..<1_000).map { "forbid \"r\($0)\" when resource.env == \"e\($0)\";" }.joined(separator: "\n")
        Self.check(rules, label: "a thousand rules")
        let duplicates = String(repeating: "permit \"same\" when true;\n", count: 500)
        Self.check(duplicates, label: "duplicate ids")
        Self.check(String(repeating: "\"", count: 5_001), label: "quotes")
        Self.check(String(repeating: "é\u{301}🙂\r\n", count: 2_000), label: "unicode")
        Self.check("permit \"p\"\r\n  when risk.score > 1\r\n  and nope;\r\n", label: "crlf")
        for text in ["", "#", "\n\n\n", ";", "permit", "permit \"", "permit \"p\"", "attribute", "attribute principal.", "\u{0}"] {
            Self.check(text, label: text.debugDescription)
        }
    }

    /// One random edit: delete, insert a token, replace a scalar, duplicate, move or truncate.
    static func mutate(_ scalars: inout [Unicode.Scalar], using random: inout SplitMix64) {
        guard !scalars.isEmpty else {
            scalars = Array(random.pick(tokens).unicodeScalars)
            return
        }
        let position = random.below(scalars.count)
        let length = min(random.below(24) + 1, scalars.count - position)
        switch random.below(7) {
        case 0:
            scalars.removeSubrange(position..<position + length)
        case 1, 2:
            scalars.insert(contentsOf: random.pick(tokens).unicodeScalars, at: position)
        case 3:
            scalars[position] = random.pick(Array("()[];,.\"\\*<>=!?:-_0123456789 aZé🙂".unicodeScalars) + ["\n", "\t", "\r", "\u{0}"])
        case 4:
            scalars.insert(contentsOf: scalars[position..<position + length], at: random.below(scalars.count))
        case 5:
            let chunk = Array(scalars[position..<position + length])
            scalars.removeSubrange(position..<position + length)
            scalars.insert(contentsOf: chunk, at: random.below(scalars.count + 1))
        default:
            scalars.removeSubrange(position...)
        }
    }
}
