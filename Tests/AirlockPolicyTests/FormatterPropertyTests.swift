import AirlockTestRandom
import Foundation
import Testing

@testable import AirlockPolicy

/// A small deterministic generator (SplitMix64), so that every run checks the same cases.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Formatter: idempotence and meaning on mutated and random policies")
struct FormatterPropertyTests {
    /// More sources to mutate: the reference example plus files using every construct.
    static let corpus: [String] = [
        examplePolicy,
        #"""
        attribute principal.department: String
        attribute resource.pci: Bool?  # optional
        permit "pci" when resource has pci and resource.pci and principal.department in ["eng", "ops"] ttl <= 1d2h3m4s;
        forbid "odd" unless (request.source_ip in cidr("fd00::/8") or request.source_ip == ip("10.0.0.1"))
          and not (risk.signals contains "burst" or risk.signals contains_all ["off_hours", "new_source_ip"]);
        require_approval "esc\"aped" when request.reason like "a\*b*c\\d\n" approvers group("x y") count 7 notify "n";
        """#,
    ]

    /// Re-spaces the tokens of `text` at random: spaces, newlines, blank lines, tabs and comments between tokens.
    static func respaced(_ text: String, using generator: inout SeededGenerator) -> String {
        let source = SourceFile(name: "m", text: text)
        let lexed = Lexer.tokenize(source)
        var output = ""
        var commentNumber = 0
        for token in lexed.tokens where token.kind != .end {
            output += token.text
            commentNumber += 1
            switch Int.random(in: 0..<14, using: &generator) {
            case 0: output += "\n"
            case 1: output += "\n\n"
            case 2: output += "\t"
            case 3: output += " # trailing \(commentNumber)\n"
            case 4: output += "\n# own line \(commentNumber)\n"
            case 5: output += "\n  # indented \(commentNumber)\n\n"
            case 6: output += "   "
            default: output += " "
            }
        }
        if Bool.random(using: &generator) { output += "\n# end \(commentNumber)" }
        return output
    }

    @Test(arguments: 0..<300)
    func mutatedExamples(seed: Int) throws {
        var generator = SeededGenerator(seed: UInt64(seed))
        let base = Self.corpus[seed % Self.corpus.count]
        let mutated = Self.respaced(base, using: &generator)
        try expectFormatterInvariants(mutated)
        // Formatting the mutated file gives the code that formatting the clean one gives (comments may break
        // a chain the clean file joins, so compare the words of the code, not the lines).
        #expect(Self.codeWords(try formatted(mutated)) == Self.codeWords(try formatted(base)))
    }

    /// The words of `text` outside comments (the corpus has no `#` inside strings).
    static func codeWords(_ text: String) -> [Substring] {
        text.split(separator: "\n").flatMap { line in
            (line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").split(separator: " ")
        }
    }

    @Test(arguments: 0..<300)
    func randomPolicies(seed: Int) throws {
        var generator = SeededGenerator(seed: UInt64(seed) &+ 10_000)
        var text = ""
        for index in 0..<Int.random(in: 1...4, using: &generator) {
            text += RandomPolicy.rule(index, using: &generator) + "\n"
        }
        let mutated = Self.respaced(text, using: &generator)
        try expectFormatterInvariants(text)
        try expectFormatterInvariants(mutated)
    }
}

/// Random syntactically valid rules, with redundant parentheses, nesting and every literal kind.
enum RandomPolicy {
    static func rule(_ index: Int, using generator: inout SeededGenerator) -> String {
        let effect = ["permit", "forbid", "require_approval"].randomElement(using: &generator) ?? "permit"
        var clauses: [String] = []
        for _ in 0..<Int.random(in: 0...4, using: &generator) {
            switch Int.random(in: 0..<6, using: &generator) {
            case 0, 1: clauses.append("when " + expression(depth: 3, using: &generator))
            case 2: clauses.append("unless " + expression(depth: 3, using: &generator))
            case 3: clauses.append("ttl <= " + ["15m", "1h30m", "90s", "2d", "0s"].pick(&generator))
            case 4:
                clauses.append([
                    "approvers group(\"a\") count 2, group(\"b\")",
                    "approvers user(principal.manager), group(resource.owner) count 2 including services",
                    "approvers group(resource.owner) ,group(\"a\")count 3 , user( principal.id )including services",
                ].pick(&generator))
            default: clauses.append("notify \"security\", \"on\\\"call\"")
            }
        }
        return "\(effect) \"rule-\(index)\" " + clauses.joined(separator: " ") + ";"
    }

    static func expression(depth: Int, using generator: inout SeededGenerator) -> String {
        let leaf = depth <= 0 || Int.random(in: 0..<3, using: &generator) == 0
        if leaf {
            return [
                "risk.score < 30", "risk.score >= -7", "\"sre\" in principal.groups", "principal has mfa_age",
                "principal.mfa_age <= 1h30m", "request.reason like \"INC-\\**\"", "request.break_glass",
                "resource.tags contains_any [\"a\", \"b\"]", "request.source_ip in cidr(\"10.1.2.3/8\")",
                "request.source_ip == ip(\"::1\")", "true", "(principal has email) == false",
                "resource.env != \"pr\\\"od\"", "[\"x\", [\"y\"]] contains \"x\"",
            ].pick(&generator)
        }
        let left = expression(depth: depth - 1, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: return "not " + expression(depth: depth - 1, using: &generator)
        case 1: return "(\(left))"
        case 2, 3:
            return left + " and " + expression(depth: depth - 1, using: &generator)
        default:
            return left + " or " + expression(depth: depth - 1, using: &generator)
        }
    }
}

extension Array where Element == String {
    fileprivate func pick(_ generator: inout SeededGenerator) -> String { randomElement(using: &generator) ?? "" }
}

@Suite("Formatter: the example policies")
struct FormatterExamplePolicyTests {
    /// `Policies/*.airlock` of the repository, when present.
    static let files: [String] = {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Policies")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".airlock") }.sorted().map { directory.appendingPathComponent($0).path }
    }()

    @Test(arguments: files)
    func formattingKeepsMeaningAndComments(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try expectFormatterInvariants(text)
        var generator = SeededGenerator(seed: UInt64(path.utf8.count))
        for _ in 0..<20 {
            try expectFormatterInvariants(FormatterPropertyTests.respaced(text, using: &generator))
        }
    }

    @Test func formattedExamplesStillLoadAndDecideAlike() throws {
        let sources = try Self.files.map { SourceFile(name: $0, text: try String(contentsOfFile: $0, encoding: .utf8)) }
        let formattedSources = try sources.map { SourceFile(name: $0.name, text: try formatted($0.text)) }
        guard case .success(let original) = PolicySet.load(sources: sources),
            case .success(let reformatted) = PolicySet.load(sources: formattedSources)
        else {
            Issue.record("the example policies or their formatted form do not load")
            return
        }
        #expect(reformatted.rules.map(\.id) == original.rules.map(\.id))
        #expect(reformatted.schema == original.schema)
        let input = baseInput()
        #expect(reformatted.evaluate(input) == original.evaluate(input))
    }
}
