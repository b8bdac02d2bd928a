/// Reads one policy test file into cases, strictly: see ``PolicyTestSuite`` for the format.
struct PolicyTestFileReader {
    typealias Entities = [(name: String, attributes: [(String, JSONInput)]?)]

    static let fileKeys = ["description", "defaults", "cases"]
    static let caseKeys = ["name", "description", "input", "expect"]
    static let expectKeys = ["decision", "ttl_seconds", "rules", "approvals", "notify", "errors"]
    static let entityNames = EntityRoot.allCases.map(\.rawValue)

    /// The file name used in errors and results.
    let file: String
    /// The case being read (1-based position and name), for errors.
    private var caseNumber: Int?
    private var caseName: String?

    init(file: String) {
        self.file = file
    }

    func fail(_ message: String) -> PolicyTestError {
        PolicyTestError(file: file, caseNumber: caseNumber, caseName: caseName, message: message)
    }

    mutating func read(_ text: String) throws(PolicyTestError) -> [PolicyTestCase] {
        let document: JSONInput
        do {
            document = try JSONReader.parse(text)
        } catch {
            throw fail(Self.locate(error.message, in: text))
        }
        let members = try object(document, "the test file")
        try checkKeys(members, allowed: Self.fileKeys, context: "")
        if let description = value("description", in: members) { _ = try string(description, "`description`") }
        var defaults: Entities = []
        if let json = value("defaults", in: members) { defaults = try entities(json, "`defaults`") }
        guard let casesJSON = value("cases", in: members) else { throw fail("missing key `cases`") }
        guard case .array(let elements) = casesJSON else {
            throw fail("`cases` must be an array, got \(casesJSON.kindDescription)")
        }
        guard !elements.isEmpty else { throw fail("`cases` is empty; a test file needs at least one case") }
        var cases: [PolicyTestCase] = []
        var names: Set<String> = []
        for (index, element) in elements.enumerated() {
            caseNumber = index + 1
            caseName = nil
            let testCase = try readCase(element, defaults: defaults)
            guard names.insert(testCase.name).inserted else { throw fail("duplicate case name in this file") }
            cases.append(testCase)
        }
        return cases
    }

    private mutating func readCase(_ json: JSONInput, defaults: Entities) throws(PolicyTestError) -> PolicyTestCase {
        let members = try object(json, "a case")
        guard let nameJSON = value("name", in: members) else { throw fail("missing key `name`") }
        let name = try string(nameJSON, "`name`")
        guard !name.isEmpty else { throw fail("`name` must not be empty") }
        caseName = name
        try checkKeys(members, allowed: Self.caseKeys, context: "")
        if let description = value("description", in: members) { _ = try string(description, "`description`") }
        guard let inputJSON = value("input", in: members) else { throw fail("missing key `input`") }
        let input = try entities(inputJSON, "`input`")
        guard let expectJSON = value("expect", in: members) else { throw fail("missing key `expect`") }
        let expected = try expectation(expectJSON)
        return PolicyTestCase(file: file, name: name, entities: Self.merge(defaults, input), expectation: expected)
    }

    // MARK: Input

    /// `{"principal": {...}, ...}`: each of the four entities an object or `null`; nothing else.
    private func entities(_ json: JSONInput, _ context: String) throws(PolicyTestError) -> Entities {
        let members = try object(json, context)
        try checkKeys(members, allowed: Self.entityNames, context: context)
        var result: Entities = []
        for (name, entity) in members {
            switch entity {
            case .null:
                result.append((name, nil))
            case .object(let attributes):
                result.append((name, attributes))
            default:
                throw fail("\(context.dropLast())." + "\(name)` must be an object or null, got \(entity.kindDescription)")
            }
        }
        return result
    }

    /// The case's entities laid over the defaults: per attribute, the case wins; a `null` entity in the case
    /// removes the default entity. The result lists the entities in the order principal, resource, request, risk.
    static func merge(_ defaults: Entities, _ input: Entities) -> Entities {
        var result: Entities = []
        for name in entityNames {
            let base = defaults.first { $0.name == name }
            guard let override = input.first(where: { $0.name == name }) else {
                if let base { result.append(base) }
                continue
            }
            guard let overrideAttributes = override.attributes, let baseAttributes = base?.attributes else {
                result.append(override)
                continue
            }
            var merged = baseAttributes.map { key, value in
                (key, overrideAttributes.first { $0.0 == key }?.1 ?? value)
            }
            merged += overrideAttributes.filter { key, _ in !baseAttributes.contains { $0.0 == key } }
            result.append((name, merged))
        }
        return result
    }

    // MARK: Expectation

    private func expectation(_ json: JSONInput) throws(PolicyTestError) -> PolicyTestExpectation {
        let members = try object(json, "`expect`")
        try checkKeys(members, allowed: Self.expectKeys, context: "`expect`")
        guard let decisionJSON = value("decision", in: members) else { throw fail("missing key `expect.decision`") }
        let decisionText = try string(decisionJSON, "`expect.decision`")
        guard let decision = Decision.Outcome(rawValue: decisionText) else {
            let names = Decision.Outcome.allCases.map(\.rawValue)
            throw fail("`expect.decision` must be `permit`, `pending_approval` or `deny`, got `\(decisionText)`"
                + Suggestion.didYouMean(decisionText, among: names))
        }
        var result = PolicyTestExpectation(decision: decision)
        switch value("ttl_seconds", in: members) {
        case nil: break
        case .null?: result.ttlSeconds = .absent
        case .integer(let seconds)? where seconds >= 0: result.ttlSeconds = .seconds(seconds)
        case let other?:
            throw fail("`expect.ttl_seconds` must be a whole number of seconds or null, got \(Self.describe(other))")
        }
        if let json = value("rules", in: members) { result.rules = try strings(json, "`expect.rules`") }
        if let json = value("notify", in: members) { result.notify = try strings(json, "`expect.notify`") }
        if let json = value("approvals", in: members) { result.approvals = try approvals(json) }
        if let json = value("errors", in: members) { result.errors = try errors(json) }
        return result
    }

    private func approvals(_ json: JSONInput) throws(PolicyTestError) -> [Decision.Approval] {
        try array(json, "`expect.approvals`").enumerated().map { (index, element) throws(PolicyTestError) in
            let context = "`expect.approvals[\(index)]`"
            let members = try object(element, context)
            try checkKeys(members, allowed: ["rule", "requires"], context: context)
            let rule = try string(try required("rule", in: members, context), "\(context.dropLast()).rule`")
            let requiresContext = "\(context.dropLast()).requires`"
            let requires = try array(try required("requires", in: members, context), requiresContext)
                .enumerated().map { (position, requirement) throws(PolicyTestError) in
                    let itemContext = "\(requiresContext.dropLast())[\(position)]`"
                    let fields = try object(requirement, itemContext)
                    try checkKeys(fields, allowed: ["group", "user", "count", "services"], context: itemContext)
                    let approvers: Decision.Requirement.Approvers
                    switch (value("group", in: fields), value("user", in: fields)) {
                    case (let group?, nil):
                        approvers = .group(try string(group, "\(itemContext.dropLast()).group`"))
                    case (nil, let user?):
                        approvers = .user(try string(user, "\(itemContext.dropLast()).user`"))
                    default:
                        throw fail("\(itemContext) needs exactly one of `group` and `user`")
                    }
                    guard case .integer(let count) = try required("count", in: fields, itemContext),
                        count >= 1, count <= Int64(Int32.max)
                    else { throw fail("\(itemContext.dropLast()).count` must be a whole number of at least 1") }
                    if case .user = approvers, count != 1 {
                        throw fail("\(itemContext.dropLast()).count` of a `user` requirement is always 1")
                    }
                    var includesServices = false
                    if let services = value("services", in: fields) {
                        guard case .bool(let flag) = services else {
                            throw fail("\(itemContext.dropLast()).services` must be true or false")
                        }
                        includesServices = flag
                    }
                    return Decision.Requirement(approvers, count: Int(count), includesServices: includesServices)
                }
            return Decision.Approval(rule: rule, requires: requires)
        }
    }

    private func errors(_ json: JSONInput) throws(PolicyTestError) -> [PolicyTestExpectation.ExpectedError] {
        try array(json, "`expect.errors`").enumerated().map { (index, element) throws(PolicyTestError) in
            let context = "`expect.errors[\(index)]`"
            let members = try object(element, context)
            try checkKeys(members, allowed: ["rule", "message"], context: context)
            let rule = try string(try required("rule", in: members, context), "\(context.dropLast()).rule`")
            let message = try value("message", in: members).map { (json) throws(PolicyTestError) in
                try string(json, "\(context.dropLast()).message`")
            }
            return PolicyTestExpectation.ExpectedError(rule: rule, message: message)
        }
    }

    // MARK: JSON helpers

    private func value(_ key: String, in members: [(String, JSONInput)]) -> JSONInput? {
        members.first { $0.0 == key }?.1
    }

    private func required(_ key: String, in members: [(String, JSONInput)], _ context: String) throws(PolicyTestError) -> JSONInput {
        guard let json = value(key, in: members) else { throw fail("missing key `\(key)` in \(context)") }
        return json
    }

    /// Rejects keys outside `allowed`, suggesting the closest allowed key. `context` is a backticked path or "".
    private func checkKeys(_ members: [(String, JSONInput)], allowed: [String], context: String) throws(PolicyTestError) {
        for (key, _) in members where !allowed.contains(key) {
            let path = context.isEmpty ? "`\(key)`" : "\(context.dropLast()).\(key)`"
            let expected = allowed.map { "`\($0)`" }.joined(separator: ", ")
            throw fail("unknown key \(path)" + Suggestion.didYouMean(key, among: allowed) + " (expected \(expected))")
        }
    }

    private func object(_ json: JSONInput, _ context: String) throws(PolicyTestError) -> [(String, JSONInput)] {
        guard case .object(let members) = json else { throw fail("\(context) must be an object, got \(json.kindDescription)") }
        return members
    }

    private func array(_ json: JSONInput, _ context: String) throws(PolicyTestError) -> [JSONInput] {
        guard case .array(let elements) = json else { throw fail("\(context) must be an array, got \(json.kindDescription)") }
        return elements
    }

    private func string(_ json: JSONInput, _ context: String) throws(PolicyTestError) -> String {
        guard case .string(let text) = json else { throw fail("\(context) must be a string, got \(json.kindDescription)") }
        return text
    }

    private func strings(_ json: JSONInput, _ context: String) throws(PolicyTestError) -> [String] {
        try array(json, context).map { (element) throws(PolicyTestError) in
            guard case .string(let text) = element else {
                throw fail("\(context) must be an array of strings, but it holds \(element.kindDescription)")
            }
            return text
        }
    }

    private static func describe(_ json: JSONInput) -> String {
        switch json {
        case .integer(let value): "`\(value)`"
        case .number(let text): "`\(text)`"
        default: json.kindDescription
        }
    }

    /// Turns the reader's "invalid json at byte N: ..." into "invalid json at line L, column C: ...".
    static func locate(_ message: String, in text: String) -> String {
        let prefix = "invalid json at byte "
        guard message.hasPrefix(prefix), let colon = message.firstIndex(of: ":"),
            let offset = Int(message[message.index(message.startIndex, offsetBy: prefix.count)..<colon])
        else { return message }
        let before = Array(text.utf8.prefix(offset))
        let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let column = String(decoding: before[lineStart...], as: UTF8.self).unicodeScalars.count + 1
        return "invalid json at line \(line), column \(column)" + message[colon...]
    }
}

extension JSONInput {
    /// The value as compact one-line JSON, members in their original order.
    var text: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .integer(let value): String(value)
        case .number(let text): text
        case .string(let value): JSONWriter.string(value)
        case .array(let elements): JSONWriter.array(elements.map(\.text))
        case .object(let members): JSONWriter.object(members.map { (key: $0.0, value: $0.1.text) })
        }
    }
}
