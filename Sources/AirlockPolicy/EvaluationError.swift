/// A runtime error while evaluating a rule: an absent attribute, an empty attribute naming approvers, or a value of
/// the wrong type in a hand-built ``EvaluationInput``. It makes a `forbid` apply and a `permit`/`require_approval` not apply.
public struct EvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, e.g. "attribute `principal.department` is absent".
    public let message: String
    /// The expression that failed.
    public let location: SourceLocation

    /// Creates an evaluation error.
    public init(message: String, location: SourceLocation) {
        self.message = message
        self.location = location
    }

    /// The message.
    public var description: String { message }
}

/// How one rule came out for one input.
public enum RuleOutcome: Sendable, Hashable {
    /// Every `when` was true and every `unless` false.
    case applies
    /// The condition at this index of ``Rule/conditions`` decided that the rule does not apply.
    case doesNotApply(conditionIndex: Int)
    /// Evaluating the condition at this index failed.
    case failed(conditionIndex: Int, EvaluationError)
    /// The chain held, but reading the attribute of the requirement at this index of ``Rule/approvers``
    /// (`group(ATTR)` or `user(ATTR)`) failed: absent, or an empty string. The rule does not apply.
    case failedApprovers(requirementIndex: Int, EvaluationError)
}
