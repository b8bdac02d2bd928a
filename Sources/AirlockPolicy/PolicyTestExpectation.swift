/// What one policy test case expects of the decision: the `expect` object of a test file.
///
/// Only `decision` is required; every other part is checked only when given. Lists compare as sets
/// (`rules`, `notify`, the rules of `errors`), except `requires`, whose order is the order written in the rule.
public struct PolicyTestExpectation: Sendable, Hashable {
    /// The expected `ttl_seconds`.
    public enum TTL: Sendable, Hashable {
        /// Exactly these seconds are granted (or, when pending, granted on approval).
        case seconds(Int64)
        /// No TTL at all, as on a deny (`"ttl_seconds": null` in the file).
        case absent
    }

    /// One expected entry of `errors`: the failing rule and, when given, its exact message.
    public struct ExpectedError: Sendable, Hashable {
        /// The rule whose evaluation fails.
        public var rule: String
        /// The exact message, or nil to check only that the rule failed.
        public var message: String?

        /// Creates an expected error.
        public init(rule: String, message: String? = nil) {
            self.rule = rule
            self.message = message
        }
    }

    /// The expected outcome (required).
    public var decision: Decision.Outcome
    /// The expected TTL, or nil when not checked.
    public var ttlSeconds: TTL?
    /// The expected ids of the deciding rules, or nil when not checked.
    public var rules: [String]?
    /// The expected approval alternatives, or nil when not checked.
    public var approvals: [Decision.Approval]?
    /// The expected alert channels, or nil when not checked.
    public var notify: [String]?
    /// The expected rule errors, or nil when not checked.
    public var errors: [ExpectedError]?

    /// Creates an expectation; parts left nil are not checked.
    public init(
        decision: Decision.Outcome, ttlSeconds: TTL? = nil, rules: [String]? = nil,
        approvals: [Decision.Approval]? = nil, notify: [String]? = nil, errors: [ExpectedError]? = nil
    ) {
        self.decision = decision
        self.ttlSeconds = ttlSeconds
        self.rules = rules
        self.approvals = approvals
        self.notify = notify
        self.errors = errors
    }

    /// Every way `decision` differs from this expectation, one readable line each, such as
    /// "expected decision permit, got deny"; empty when the decision matches.
    public func mismatches(_ decision: Decision) -> [String] {
        var result: [String] = []
        if decision.outcome != self.decision {
            result.append("expected decision \(self.decision.rawValue), got \(decision.outcome.rawValue)")
        }
        if let ttlSeconds {
            let actual = decision.outcome == .deny ? nil : decision.ttlSeconds
            switch (ttlSeconds, actual) {
            case (.seconds(let expected), nil):
                result.append("expected ttl_seconds \(expected), got none")
            case (.seconds(let expected), let actual?) where actual != expected:
                result.append("expected ttl_seconds \(expected), got \(actual)")
            case (.absent, let actual?):
                result.append("expected no ttl_seconds, got \(actual)")
            default:
                break
            }
        }
        if let rules, let line = Self.setMismatch("rules", expected: rules, actual: decision.rules) {
            result.append(line)
        }
        if let approvals {
            let expected = approvals.sorted { $0.rule < $1.rule }
            let actual = decision.approvals.sorted { $0.rule < $1.rule }
            if expected != actual {
                result.append("expected approvals \(Self.render(expected)), got \(Self.render(actual))")
            }
        }
        if let notify, let line = Self.setMismatch("notify", expected: notify, actual: decision.notify) {
            result.append(line)
        }
        if let errors {
            result += errorMismatches(errors, actual: decision.errors)
        }
        return result
    }

    private func errorMismatches(_ expected: [ExpectedError], actual: [Decision.RuleError]) -> [String] {
        var result: [String] = []
        let actualRules = actual.map(\.rule)
        if let line = Self.setMismatch("errors in rules", expected: expected.map(\.rule), actual: actualRules) {
            result.append(line)
        }
        for error in expected {
            guard let message = error.message else { continue }
            let messages = actual.filter { $0.rule == error.rule }.map(\.message)
            if !messages.isEmpty, !messages.contains(message) {
                result.append("expected error of rule `\(error.rule)` to be \(JSONWriter.string(message)), "
                    + "got \(messages.map(JSONWriter.string).joined(separator: ", "))")
            }
        }
        return result
    }

    /// "expected rules ["a"], got ["b"] (missing `a`; unexpected `b`)", or nil when both hold the same strings.
    private static func setMismatch(_ what: String, expected: [String], actual: [String]) -> String? {
        let expectedSet = Set(expected)
        let actualSet = Set(actual)
        guard expectedSet != actualSet else { return nil }
        var details: [String] = []
        let missing = expectedSet.subtracting(actualSet).sorted()
        let unexpected = actualSet.subtracting(expectedSet).sorted()
        if !missing.isEmpty { details.append("missing " + missing.map { "`\($0)`" }.joined(separator: ", ")) }
        if !unexpected.isEmpty { details.append("unexpected " + unexpected.map { "`\($0)`" }.joined(separator: ", ")) }
        return "expected \(what) \(render(expected.sorted())), got \(render(actual.sorted())) (\(details.joined(separator: "; ")))"
    }

    private static func render(_ strings: [String]) -> String {
        JSONWriter.array(strings.map(JSONWriter.string))
    }

    private static func render(_ approvals: [Decision.Approval]) -> String {
        JSONWriter.array(approvals.map { approval in
            JSONWriter.object([
                ("rule", JSONWriter.string(approval.rule)),
                ("requires", JSONWriter.array(approval.requires.map(\.json))),
            ])
        })
    }
}
