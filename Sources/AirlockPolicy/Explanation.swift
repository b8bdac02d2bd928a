/// Why a policy set decided what it did for one input: the decision and, for every rule, whether it
/// applied and, where not, the first condition that failed. Data only; the CLI and the API format it.
public struct Explanation: Sendable, Hashable {
    /// The decision, as ``PolicySet/evaluate(_:)`` returns it.
    public var decision: Decision
    /// One entry per rule, in load order (file name order, then source order).
    public var rules: [RuleExplanation]

    /// Creates an explanation.
    public init(decision: Decision, rules: [RuleExplanation]) {
        self.decision = decision
        self.rules = rules
    }
}

/// How one rule came out, and why.
public struct RuleExplanation: Sendable, Hashable {
    /// Whether the rule applied.
    public enum Status: String, Sendable, Hashable {
        /// Every `when` held and every `unless` did not.
        case applied
        /// A condition decided that the rule does not apply; see ``RuleExplanation/failure``.
        case notApplied = "not_applied"
        /// Evaluation failed; a failing `forbid` still applies (fail closed).
        case failed
    }

    /// The rule id.
    public var rule: String
    /// The rule's effect.
    public var effect: Effect
    /// Where the rule starts.
    public var location: SourceLocation
    /// The outcome.
    public var status: Status
    /// For ``Status/notApplied`` and ``Status/failed``: the condition responsible.
    public var failure: FailedCondition?

    /// Creates a rule explanation.
    public init(rule: String, effect: Effect, location: SourceLocation, status: Status, failure: FailedCondition?) {
        self.rule = rule
        self.effect = effect
        self.location = location
        self.status = status
        self.failure = failure
    }

    /// Whether the rule counted as applying: it applied, or it is a `forbid` whose evaluation failed.
    public var applied: Bool { status == .applied || (status == .failed && effect == .forbid) }
}

/// The part of a rule's condition chain that stopped it from applying (or failed to evaluate).
///
/// For a false `when`, it is the first false operand of the `and` chain (looking inside nested `and`s); for a
/// true `unless`, the first true operand of an `or` (inside nested `or`s); otherwise the whole clause.
/// A `not` is kept whole so the negation stays visible.
///
/// A `require_approval` rule whose chain held can still fail when the attribute of a `group(ATTR)` or `user(ATTR)`
/// requirement is absent or empty: then ``inApprovers`` is true, ``expression`` is that attribute where the
/// `approvers` clause names it, and ``polarity`` is `when` (the read comes after the whole chain, as one more
/// `when` would).
public struct FailedCondition: Sendable, Hashable {
    /// The clause kind the condition belongs to (`when` for a failure in the `approvers` clause).
    public var polarity: Condition.Polarity
    /// Whether the failure is the read of an attribute naming approvers, in the `approvers` clause.
    public var inApprovers: Bool
    /// The responsible (sub)expression.
    public var expression: Expression
    /// What it evaluated to, or nil when it failed with ``error``.
    public var value: Bool?
    /// The runtime error, for a failed evaluation.
    public var error: String?
    /// Where the expression starts.
    public var location: SourceLocation
    /// The source line at ``location``.
    public var sourceLine: String
    /// The attributes the expression reads, in order, with the values seen (nil = absent).
    public var observed: [ObservedAttribute]

    /// Creates a failed condition.
    public init(
        polarity: Condition.Polarity, expression: Expression, value: Bool?, error: String?,
        location: SourceLocation, sourceLine: String, observed: [ObservedAttribute], inApprovers: Bool = false
    ) {
        self.polarity = polarity
        self.inApprovers = inApprovers
        self.expression = expression
        self.value = value
        self.error = error
        self.location = location
        self.sourceLine = sourceLine
        self.observed = observed
    }

    /// The keyword of the clause that failed: `when`, `unless` or `approvers`.
    public var clause: String { inApprovers ? "approvers" : polarity.rawValue }
}

/// An attribute and the value it had in the input.
public struct ObservedAttribute: Sendable, Hashable, CustomStringConvertible {
    /// The attribute.
    public var path: AttributePath
    /// Its value, or nil when absent.
    public var value: Value?

    /// Creates an observation.
    public init(path: AttributePath, value: Value?) {
        self.path = path
        self.value = value
    }

    /// `principal.mfa_age = 2h` or `principal.mfa_age is absent`.
    public var description: String {
        value.map { "\(path) = \($0)" } ?? "\(path) is absent"
    }
}
