import AirlockPolicy

/// The text and JSON renderings of an ``Explanation`` for `airlock policy explain`.
enum PolicyExplainOutput {
    /// The decision, then one paragraph per rule:
    ///
    /// ```
    /// permit "sre-prod-readonly" (Policies/main.airlock:2): not applied
    ///   needs `principal.mfa_age <= 15m`; yours is 2h
    ///   Policies/main.airlock:7:34
    ///        and principal has mfa_age and principal.mfa_age <= 15m
    ///                                      ^
    /// ```
    static func text(_ explanation: Explanation) -> String {
        var lines = ["decision: \(explanation.decision.json)"]
        for rule in explanation.rules {
            lines.append("")
            lines.append("\(rule.effect.rawValue) \"\(rule.rule)\" (\(rule.location.file):\(rule.location.line)): \(status(rule))")
            guard let failure = rule.failure else { continue }
            lines.append("  " + reason(failure) + observed(failure.observed))
            lines.append("  \(failure.location)")
            let diagnostic = Diagnostic(location: failure.location, message: "", sourceLine: failure.sourceLine)
            lines.append("    " + failure.sourceLine)
            lines.append("    " + diagnostic.caretLine)
        }
        return lines.joined(separator: "\n")
    }

    private static func status(_ rule: RuleExplanation) -> String {
        switch rule.status {
        case .applied: "applied"
        case .notApplied: "not applied"
        case .failed where rule.effect == .forbid: "applied (its evaluation failed, and a forbid fails closed)"
        case .failed: "not applied (its evaluation failed)"
        }
    }

    private static func reason(_ failure: FailedCondition) -> String {
        if let error = failure.error, failure.inApprovers {
            return "error: \(error), reading `\(failure.expression)` in `approvers`"
        }
        if let error = failure.error { return "error: \(error), in `\(failure.expression)`" }
        switch failure.polarity {
        case .when: return "needs `\(failure.expression)`"
        case .unless: return "excluded by `unless \(failure.expression)`"
        }
    }

    /// `; yours is 2h`, `; yours is absent`, or `; yours: a = 1, b is absent` for several attributes.
    private static func observed(_ attributes: [ObservedAttribute]) -> String {
        guard let first = attributes.first else { return "" }
        if attributes.count == 1 { return "; yours is " + (first.value.map(\.description) ?? "absent") }
        return "; yours: " + attributes.map(\.description).joined(separator: ", ")
    }

    /// One JSON object: `{"decision": {...}, "rules": [{"rule", "effect", "location", "status", "applied", "failure"}]}`;
    /// `failure` (null when the rule applied) has `clause`, `expression`, `value`, `error`, `location`,
    /// `source_line` and `observed` (`[{"attribute": "principal.mfa_age", "value": 7200}]`, null when absent,
    /// values in the `eval` input format).
    static func json(_ explanation: Explanation) -> String {
        let rules = explanation.rules.map { rule in
            JSONWriter.object([
                ("rule", JSONWriter.string(rule.rule)),
                ("effect", JSONWriter.string(rule.effect.rawValue)),
                ("location", JSONWriter.string(rule.location.description)),
                ("status", JSONWriter.string(rule.status.rawValue)),
                ("applied", String(rule.applied)),
                ("failure", rule.failure.map(json) ?? "null"),
            ])
        }
        return JSONWriter.object([("decision", explanation.decision.json), ("rules", JSONWriter.array(rules))])
    }

    private static func json(_ failure: FailedCondition) -> String {
        let observed = failure.observed.map { attribute in
            JSONWriter.object([
                ("attribute", JSONWriter.string(attribute.path.description)),
                ("value", attribute.value.map(json) ?? "null"),
            ])
        }
        return JSONWriter.object([
            ("clause", JSONWriter.string(failure.clause)),
            ("expression", JSONWriter.string(failure.expression.description)),
            ("value", failure.value.map { String($0) } ?? "null"),
            ("error", failure.error.map(JSONWriter.string) ?? "null"),
            ("location", JSONWriter.string(failure.location.description)),
            ("source_line", JSONWriter.string(failure.sourceLine)),
            ("observed", JSONWriter.array(observed)),
        ])
    }

    private static func json(_ value: Value) -> String {
        switch value {
        case .string(let text): JSONWriter.string(text)
        case .int(let number), .duration(let number): String(number)
        case .bool(let flag): String(flag)
        case .ip(let address): JSONWriter.string(address.description)
        case .cidr(let network): JSONWriter.string(network.description)
        case .set(let elements): JSONWriter.array(elements.sorted().map(JSONWriter.string))
        case .list(let elements): JSONWriter.array(elements.map(json))
        }
    }
}
