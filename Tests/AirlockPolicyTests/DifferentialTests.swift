import AirlockTestRandom
import Testing

@testable import AirlockPolicy

/// The compiled, indexed evaluator against the reference tree walk, on random valid policy sets and
/// random inputs (attributes often absent, sometimes of the wrong type), errors included.
@Suite("Compiled evaluator vs reference evaluator")
struct DifferentialTests {
    static let seeds: [UInt64] = Array(0..<8)
    /// 8 × 1,250 = 10,000 random policy sets.
    static let setsPerSeed = 1_250
    static let inputsPerSet = 6
    /// Random rules per seed; each set is 1 to 12 of them. Parsing is what costs in a debug build, so each rule is
    /// parsed and validated once and the sets are compiled from the parsed rules.
    static let poolSize = 400
    /// One set in this many is also loaded from its text, as written and with its rules reversed, which must
    /// decide the same.
    static let loadEvery = 20

    @Test(arguments: seeds)
    func compiledDecisionsEqualReference(seed: UInt64) throws {
        var random = SplitMix64(seed: 0xA1B2_0000 + seed)
        let schema = try PolicySet.load(sources: [SourceFile(name: "r.airlock", text: RandomRuleWriter.declarations)]).get().schema
        var pool: [(text: String, rule: Rule)] = []
        for number in 0..<Self.poolSize {
            let text = RandomRuleWriter.rule(number: number, using: &random)
            let source = SourceFile(name: "r.airlock", text: RandomRuleWriter.declarations + text)
            guard case .success(let set) = PolicySet.load(sources: [source]), let rule = set.rules.first else { continue }
            pool.append((text, rule))
        }
        // Most generated rules must be valid, or the test would prove little.
        #expect(pool.count * 10 >= Self.poolSize * 9, "only \(pool.count) of \(Self.poolSize) random rules loaded")
        var compared = 0
        var mismatches = 0
        var skippedSomething = false
        var outcomes: [Decision.Outcome: Int] = [:]
        var withErrors = 0
        var userRequirements = 0
        var approverErrors: [String: Int] = [:]
        for setNumber in 0..<Self.setsPerSeed {
            var chosen: [Int] = []
            for _ in 0..<random.below(12) + 1 {
                let index = random.below(pool.count)
                if !chosen.contains(index) { chosen.append(index) }
            }
            let rules = chosen.map { pool[$0].rule }
            let source = RandomRuleWriter.declarations + chosen.map { pool[$0].text }.joined(separator: "\n")
            let reference = Evaluator(rules: rules)
            let compiled = CompiledPolicy(rules: rules, schema: schema)
            // The set loaded from its text, and with the rules in another order, must decide the same.
            var loaded: [PolicySet] = []
            if setNumber % Self.loadEvery == 0 {
                let reversed = RandomRuleWriter.declarations + chosen.reversed().map { pool[$0].text }.joined(separator: "\n")
                for text in [source, reversed] {
                    loaded.append(try PolicySet.load(sources: [SourceFile(name: "r.airlock", text: text)]).get())
                }
            }
            let approvalRules = rules.filter { $0.effect == .requireApproval }
            for _ in 0..<Self.inputsPerSet {
                let input = RandomInputWriter.input(using: &random)
                let expected = reference.decide(input)
                let actual = compiled.decide(input)
                compared += 1
                outcomes[expected.outcome, default: 0] += 1
                if !expected.errors.isEmpty { withErrors += 1 }
                userRequirements += expected.approvals.flatMap(\.requires).count { $0.user != nil }
                for rule in approvalRules {
                    guard case .failedApprovers(_, let error) = reference.evaluate(rule, input: input) else { continue }
                    let kind = error.message.hasPrefix("attribute") ? "absent" : error.message.contains("empty") ? "empty" : "other"
                    approverErrors[kind, default: 0] += 1
                }
                if compiled.evaluatedRuleIDs(for: input).count < rules.count { skippedSomething = true }
                let fromText = loaded.map { $0.evaluate(input) }
                guard actual == expected, fromText.allSatisfy({ $0 == expected }) else {
                    mismatches += 1
                    if mismatches <= 3 {
                        Issue.record("""
                            seed \(seed) set \(setNumber): compiled decision differs
                            policy:
                            \(source)
                            input: \(input.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                            expected: \(expected)
                            actual:   \(actual)
                            loaded from text, as written and reversed: \(fromText)
                            """)
                    }
                    continue
                }
            }
        }
        #expect(compared >= Self.setsPerSeed * Self.inputsPerSet)
        #expect(skippedSomething, "the index never skipped a rule")
        // Every outcome and plenty of runtime errors occur, so the comparison covers them.
        #expect(Decision.Outcome.allCases.allSatisfy { outcomes[$0, default: 0] >= 100 }, "\(outcomes)")
        #expect(withErrors >= 1_000, "only \(withErrors) decisions with errors")
        // Approvers named by attributes: user requirements decided, and reads that fail because the attribute is
        // absent, empty or (in a hand-built input) not a string.
        #expect(userRequirements >= 50, "only \(userRequirements) user requirements")
        #expect(["absent", "empty", "other"].allSatisfy { approverErrors[$0, default: 0] >= 20 }, "\(approverErrors)")
        #expect(mismatches == 0)
    }

    @Test func generatedSetsLoad() {
        var random = SplitMix64(seed: 7)
        var failures: [String] = []
        for _ in 0..<200 {
            let source = RandomRuleWriter.declarations + RandomRuleWriter.rule(number: 0, using: &random)
            if case .failure(let error) = PolicySet.load(sources: [SourceFile(name: "r.airlock", text: source)]) {
                failures.append("\(source)\n\(error)")
            }
        }
        #expect(failures.count <= 10, "\(failures.prefix(3).joined(separator: "\n\n"))")
    }
}


/// The attributes random rules and inputs use, with small value domains so that equality tests hit.
enum RandomDomain {
    enum Kind {
        case string([String]), int([Int64]), bool, duration([Int64]), ip([String]), set([String])
    }

    struct Attribute {
        var root: EntityRoot
        var name: String
        var kind: Kind
        var optional = false
        var path: AttributePath { AttributePath(root, name) }
        var text: String { "\(root.rawValue).\(name)" }
        var guardText: String { "\(root.rawValue) has \(name)" }
    }

    static let attributes: [Attribute] = [
        Attribute(root: .principal, name: "id", kind: .string(["alice", "bob", "carol"])),
        Attribute(root: .principal, name: "kind", kind: .string(["user", "service"])),
        Attribute(root: .principal, name: "groups", kind: .set(["sre", "backend", "dba", "security"])),
        Attribute(root: .principal, name: "email", kind: .string(["a@x.io", "b@y.io"]), optional: true),
        Attribute(root: .principal, name: "mfa_age", kind: .duration([60, 300, 900, 7_200]), optional: true),
        Attribute(root: .principal, name: "on_call", kind: .bool),
        Attribute(root: .principal, name: "manager", kind: .string(["erin", "frank", "alice", ""]), optional: true),
        Attribute(root: .resource, name: "owner", kind: .string(["payments", "identity", "sre", ""])),
        Attribute(root: .resource, name: "steward", kind: .string(["dba", ""]), optional: true),
        Attribute(root: .principal, name: "department", kind: .string(["eng", "ops"])),
        Attribute(root: .principal, name: "level", kind: .int([-1, 0, 3]), optional: true),
        Attribute(root: .principal, name: "vpn_ip", kind: .ip(["10.1.2.3", "fd00::1"]), optional: true),
        Attribute(root: .resource, name: "id", kind: .string(["orders-db", "users-db", "tok"])),
        Attribute(root: .resource, name: "kind", kind: .string(["postgres", "token"])),
        Attribute(root: .resource, name: "env", kind: .string(["prod", "staging", "dev"])),
        Attribute(root: .resource, name: "sensitivity", kind: .int([0, 3, 5, 10])),
        Attribute(root: .resource, name: "tags", kind: .set(["pci", "gdpr", "internal"])),
        Attribute(root: .resource, name: "pci", kind: .bool, optional: true),
        Attribute(root: .resource, name: "max_age", kind: .duration([600, 3_600])),
        Attribute(root: .request, name: "role", kind: .string(["readonly", "readwrite", "admin"])),
        Attribute(root: .request, name: "ttl", kind: .duration([60, 900, 1_800, 3_600, 7_200])),
        Attribute(root: .request, name: "reason", kind: .string(["INC-1 fix", "looking", "inc-2", "a*b"])),
        Attribute(root: .request, name: "ticket", kind: .string(["T-1", "T-2"]), optional: true),
        Attribute(root: .request, name: "source_ip", kind: .ip(["10.1.2.3", "192.168.4.4", "8.8.8.8", "fd00::1"])),
        Attribute(root: .request, name: "break_glass", kind: .bool),
        Attribute(root: .request, name: "hour", kind: .int([0, 9, 17, 23])),
        Attribute(root: .request, name: "weekday", kind: .string(["mon", "tue", "sat"])),
        Attribute(root: .request, name: "approved_by", kind: .set(["ann", "ben"]), optional: true),
        Attribute(root: .risk, name: "score", kind: .int([0, 10, 30, 70, 90])),
        Attribute(root: .risk, name: "signals", kind: .set(["new_source_ip", "off_hours", "burst"])),
        Attribute(root: .risk, name: "country", kind: .string(["de", "us"])),
    ]
}

/// Writes random inputs: attributes often absent, occasionally of the wrong type.
enum RandomInputWriter {
    static func input(using random: inout SplitMix64) -> EvaluationInput {
        var input = EvaluationInput()
        let absentPercent = random.pick([0, 5, 20, 50])
        for attribute in RandomDomain.attributes {
            if random.chance(attribute.optional ? 40 : absentPercent) { continue }
            if random.chance(3) {
                input[attribute.path] = random.pick([.int(1), .string("prod"), .bool(true), .list([.string("sre")]), .set(["sre"])])
                continue
            }
            input[attribute.path] = value(attribute.kind, using: &random)
        }
        return input
    }

    /// The IP addresses of the domain, parsed once.
    static let addresses: [String: IPAddress] = Dictionary(uniqueKeysWithValues: RandomDomain.attributes.flatMap { attribute in
        guard case .ip(let domain) = attribute.kind else { return [(String, IPAddress)]() }
        return domain.compactMap { text in IPAddress(text).map { (text, $0) } }
    }.reduce(into: [String: IPAddress]()) { $0[$1.0] = $1.1 }.map { ($0.key, $0.value) })

    static func value(_ kind: RandomDomain.Kind, using random: inout SplitMix64) -> Value {
        switch kind {
        case .string(let domain): .string(random.pick(domain + ["zzz"]))
        case .int(let domain): .int(random.pick(domain + [42]))
        case .bool: .bool(random.chance(50))
        case .duration(let domain): .duration(random.pick(domain))
        case .ip(let domain): .ip(addresses[random.pick(domain)] ?? .v4(0))
        case .set(let domain): .set(Set(domain.filter { _ in random.chance(35) }))
        }
    }
}

/// Writes random rules over ``RandomDomain``: every effect and operator, `has` guards on optional
/// reads (in the expression or earlier on the chain), constants, `not`/`and`/`or` nesting, ttl caps,
/// approvers and notify channels. Nearly all of them validate.
enum RandomRuleWriter {
    static let declarations = """
        attribute principal.department: String
        attribute principal.level: Int?
        attribute principal.vpn_ip: IP?
        attribute resource.pci: Bool?
        attribute resource.max_age: Duration
        attribute resource.steward: String?
        attribute request.approved_by: Set<String>?
        attribute risk.country: String

        """

    static func rule(number: Int, using random: inout SplitMix64) -> String {
        let effect = random.pick(["permit", "permit", "forbid", "require_approval"])
        var clauses: [String] = []
        var guards: Set<String> = []
        for _ in 0..<random.below(4) {
            if random.chance(12) {
                let attribute = random.pick(RandomDomain.attributes.filter(\.optional))
                clauses.append("\(random.chance(80) ? "when" : "unless not") \(attribute.guardText)")
                guards.insert(attribute.text)
                continue
            }
            clauses.append("\(random.chance(75) ? "when" : "unless") \(expression(depth: 0, guards: guards, using: &random))")
        }
        if effect != "forbid", random.chance(50) {
            clauses.append("ttl <= \(random.pick(["10m", "30m", "1h", "2h", "1h30m"]))")
        }
        if effect == "require_approval" {
            let (written, reads) = approvers(using: &random)
            clauses.append("approvers " + written.joined(separator: ", "))
            // An optional attribute naming approvers needs a `has` guard somewhere on the chain, before or after.
            for read in reads where read.optional && !guards.contains(read.text) {
                let guardClause = random.pick([
                    "when \(read.guardText)", "unless not (\(read.guardText))", "when risk.score >= 0 and \(read.guardText)",
                    "when (\(read.guardText) and true)",
                ])
                clauses.insert(guardClause, at: random.below(clauses.count + 1))
            }
        }
        if random.chance(40) {
            let channels = ["security", "oncall", "audit"].filter { _ in random.chance(50) }
            clauses.append("notify " + (channels.isEmpty ? ["audit"] : channels).map { "\"\($0)\"" }.joined(separator: ", "))
        }
        let id = "\(random.pick(["a", "b", "c", "z"]))-\(number)"
        return "\(effect) \"\(id)\"\n  " + clauses.joined(separator: "\n  ") + ";"
    }

    /// The String attributes approvers may be named by: required ones (absent or empty in some inputs, a runtime
    /// error) and optional ones (which the rule must guard).
    static let approverAttributes = RandomDomain.attributes.filter {
        ["principal.manager", "principal.email", "principal.id", "resource.owner", "resource.steward", "principal.department",
         "request.ticket"].contains($0.text)
    }

    /// A random `approvers` list mixing fixed groups, `group(ATTR) count N` and `user(ATTR)`, each at most once,
    /// and the attributes it reads.
    static func approvers(using random: inout SplitMix64) -> (written: [String], reads: [RandomDomain.Attribute]) {
        var written: [String] = []
        var reads: [RandomDomain.Attribute] = []
        var used: Set<String> = []
        for _ in 0..<random.below(4) + 1 {
            let count = random.chance(50) ? "" : " count \(random.below(3) + 1)"
            let services = random.chance(15) ? " including services" : ""
            let attribute = random.pick(approverAttributes)
            let (requirement, read): (String, RandomDomain.Attribute?) = switch random.below(3) {
            case 0: ("group(\"\(random.pick(["db-owners", "security", "sre", "payments"]))\")", nil)
            case 1: ("group(\(attribute.text))", attribute)
            default: ("user(\(attribute.text))", attribute)
            }
            // The same group or attribute twice is a load error.
            guard used.insert(requirement).inserted else { continue }
            if let read { reads.append(read) }
            written.append(requirement + (requirement.hasPrefix("user") ? "" : count) + services)
        }
        return (written, reads)
    }

    static func expression(depth: Int, guards: Set<String>, using random: inout SplitMix64) -> String {
        guard depth < 3, random.chance(30) else { return atom(guards: guards, using: &random) }
        let first = expression(depth: depth + 1, guards: guards, using: &random)
        let second = expression(depth: depth + 1, guards: guards, using: &random)
        switch random.below(4) {
        case 0: return "not (\(first))"
        case 1: return "(\(first) and \(second))"
        case 2: return "(\(first) or \(second))"
        default: return "\(first) and \(second) or \(expression(depth: depth + 1, guards: guards, using: &random))"
        }
    }

    static func atom(guards: Set<String>, using random: inout SplitMix64) -> String {
        switch random.below(40) {
        case 0: return random.pick(["true", "false", "1 < 2", "\"a\" in [\"a\", \"b\"]", "not (2 == 2)"])
        case 1: return random.pick(RandomDomain.attributes).guardText
        default: break
        }
        let attribute = random.pick(RandomDomain.attributes)
        let text = comparison(attribute, using: &random)
        guard attribute.optional, !guards.contains(attribute.text) else { return text }
        return random.chance(60) ? "(\(attribute.guardText) and \(text))" : "(not (\(attribute.guardText)) or \(text))"
    }

    private static func other(_ attribute: RandomDomain.Attribute, using random: inout SplitMix64) -> String {
        let sameKind = RandomDomain.attributes.filter { candidate in
            guard !candidate.optional else { return false }
            switch (candidate.kind, attribute.kind) {
            case (.string, .string), (.int, .int), (.set, .set), (.duration, .duration): return true
            default: return false
            }
        }
        return sameKind.isEmpty ? attribute.text : random.pick(sameKind).text
    }

    static func comparison(_ attribute: RandomDomain.Attribute, using random: inout SplitMix64) -> String {
        let a = attribute.text
        func quoted(_ domain: [String]) -> String { "\"\(random.pick(domain + ["nope"]))\"" }
        func list(_ domain: [String]) -> String {
            "[" + domain.filter { _ in random.chance(40) }.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
        let orderings = ["==", "!=", "<", "<=", ">", ">="]
        switch attribute.kind {
        case .string(let domain):
            switch random.below(7) {
            case 0: return "\(a) == \(quoted(domain))"
            case 1: return "\(a) != \(quoted(domain))"
            case 2: return "\(quoted(domain)) == \(a)"
            case 3: return "\(a) in \(list(domain))"
            case 4: return "\(a) like \"\(random.pick(["INC-*", "*fix", "*", #"a\*b"#, "lo*ing", "alice", "*-*", "p*d"]))\""
            case 5: return "\(a) == \(other(attribute, using: &random))"
            default: return "\(a) in [\(quoted(domain))]"
            }
        case .int(let domain):
            let number = random.pick(domain + [1, 42])
            switch random.below(4) {
            case 0: return "\(number) \(random.pick(orderings)) \(a)"
            case 1: return "\(a) in [\(random.pick(domain)), \(random.pick(domain))]"
            case 2: return "\(a) \(random.pick(orderings)) \(other(attribute, using: &random))"
            default: return "\(a) \(random.pick(orderings)) \(number)"
            }
        case .bool:
            return random.pick(["\(a)", "\(a) == true", "\(a) != false", "not \(a)", "\(a) == false"])
        case .duration(let domain):
            let duration = DurationText.format(random.pick(domain + [1_800]))
            return random.chance(80) ? "\(a) \(random.pick(orderings)) \(duration)" : "\(a) == \(other(attribute, using: &random))"
        case .ip:
            return random.pick([
                "\(a) in cidr(\"10.0.0.0/8\")", "\(a) in [cidr(\"10.0.0.0/8\"), cidr(\"192.168.0.0/16\")]",
                "\(a) == ip(\"10.1.2.3\")", "\(a) in [ip(\"8.8.8.8\"), ip(\"fd00::1\")]",
                "cidr(\"fd00::/8\") contains \(a)", "\(a) in cidr(\"::/0\")", "\(a) != ip(\"fd00::1\")",
            ])
        case .set(let domain):
            switch random.below(8) {
            case 0: return "\(quoted(domain)) in \(a)"
            case 1: return "\(a) contains \(quoted(domain))"
            case 2: return "\(a) contains_any \(list(domain))"
            case 3: return "\(a) contains_all \(list(domain))"
            case 4: return "\(list(domain)) contains_any \(a)"
            case 5: return "\(list(domain)) contains_all \(a)"
            case 6: return "\(a) contains_any \(other(attribute, using: &random))"
            default: return "\(a) contains_all [\(quoted(domain))]"
            }
        }
    }
}

extension SplitMix64 {
    /// A number in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// A random element of a non-empty array.
    mutating func pick<T>(_ elements: [T]) -> T { elements[below(elements.count)] }
}
