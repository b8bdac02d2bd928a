/// The reference evaluator: a plain tree walk over validated rules, defining the semantics that
/// any optimised evaluator must reproduce exactly, errors included.
///
/// It is pure and synchronous; recursion depth is bounded by ``Parser/maximumNestingDepth``.
public struct Evaluator: Sendable {
    /// The rules, in load order (the decision does not depend on it).
    public let rules: [Rule]

    /// Creates an evaluator over validated rules.
    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// Decides one request.
    ///
    /// Forbid beats permit beats require_approval beats the default deny. A failing `forbid` applies
    /// (fail closed); a failing `permit`/`require_approval` does not.
    public func decide(_ input: EvaluationInput) -> Decision {
        var forbids: [Rule] = []
        var permits: [Rule] = []
        var approvals: [Rule] = []
        var alternatives: [String: Decision.Approval] = [:]
        var forbidErrors: [Decision.RuleError] = []
        var otherErrors: [Decision.RuleError] = []
        for rule in rules {
            let (outcome, requires) = evaluateWithRequirements(rule, input: input)
            switch (rule.effect, outcome) {
            case (.forbid, .applies):
                forbids.append(rule)
            case (.forbid, .failed(_, let error)):
                forbids.append(rule)
                forbidErrors.append(Decision.RuleError(rule: rule.id, message: error.message))
            case (.permit, .applies):
                permits.append(rule)
            case (.requireApproval, .applies):
                approvals.append(rule)
                alternatives[rule.id] = Decision.Approval(rule: rule.id, requires: requires)
            case (_, .failed(_, let error)), (_, .failedApprovers(_, let error)):
                otherErrors.append(Decision.RuleError(rule: rule.id, message: error.message))
            case (_, .doesNotApply):
                break
            }
        }
        let requestTTL: Int64? = if case .duration(let seconds)? = input[AttributePath(.request, "ttl")] { seconds } else { nil }
        func granted(_ deciding: [Rule]) -> Int64 {
            let cap = deciding.map(\.ttlSeconds).max() ?? Rule.defaultTTLSeconds
            return requestTTL.map { min($0, cap) } ?? cap
        }
        func notify(_ deciding: [Rule]) -> [String] {
            Array(Set((deciding + forbids).flatMap(\.notify))).sorted()
        }
        let errors = (forbidErrors + otherErrors).sorted { ($0.rule, $0.message) < ($1.rule, $1.message) }
        if !forbids.isEmpty {
            return Decision(outcome: .deny, ttlSeconds: nil, rules: forbids.map(\.id).sorted(),
                notify: notify(forbids), errors: errors)
        }
        if !permits.isEmpty {
            return Decision(outcome: .permit, ttlSeconds: granted(permits), rules: permits.map(\.id).sorted(),
                notify: notify(permits), errors: forbidErrors)
        }
        if !approvals.isEmpty {
            let sorted = approvals.sorted { $0.id < $1.id }
            return Decision(outcome: .pendingApproval, ttlSeconds: granted(approvals), rules: sorted.map(\.id),
                approvals: sorted.compactMap { alternatives[$0.id] }, notify: notify(approvals), errors: errors)
        }
        return Decision(outcome: .deny, ttlSeconds: nil, rules: [], errors: errors)
    }

    /// Evaluates one rule: its `when`/`unless` clauses in the order written, as one `and` chain; then, for a
    /// `require_approval` rule whose chain held, the attributes its `approvers` read, in the order written.
    public func evaluate(_ rule: Rule, input: EvaluationInput) -> RuleOutcome {
        evaluateWithRequirements(rule, input: input).outcome
    }

    /// ``evaluate(_:input:)``, with the requirements of an applying `require_approval` rule (empty otherwise).
    private func evaluateWithRequirements(
        _ rule: Rule, input: EvaluationInput
    ) -> (outcome: RuleOutcome, requires: [Decision.Requirement]) {
        for (index, condition) in rule.conditions.enumerated() {
            do {
                let holds = try evaluateCondition(condition.expression, input: input)
                if holds != (condition.polarity == .when) { return (.doesNotApply(conditionIndex: index), []) }
            } catch {
                return (.failed(conditionIndex: index, error), [])
            }
        }
        guard rule.effect == .requireApproval else { return (.applies, []) }
        var requires: [Decision.Requirement] = []
        for (index, requirement) in rule.approvers.enumerated() {
            do throws(EvaluationError) {
                requires.append(try requirement.resolved(in: input))
            } catch {
                return (.failedApprovers(requirementIndex: index, error), [])
            }
        }
        return (.applies, requires)
    }

    /// Evaluates a condition that must be a boolean.
    public func evaluateCondition(_ expression: Expression, input: EvaluationInput) throws(EvaluationError) -> Bool {
        let value = try evaluate(expression, input: input)
        guard case .bool(let result) = value else {
            throw EvaluationError(message: "`\(expression)` is \(value.typeName), not Bool", location: expression.location)
        }
        return result
    }

    /// Evaluates an expression left to right, `and`/`or` short-circuiting.
    public func evaluate(_ expression: Expression, input: EvaluationInput) throws(EvaluationError) -> Value {
        switch expression.kind {
        case .literal(let literal):
            return literal.value
        case .attribute(let path):
            guard let value = input[path] else {
                throw EvaluationError(message: "attribute `\(path)` is absent", location: expression.location)
            }
            return value
        case .has(let path):
            return .bool(input[path] != nil)
        case .not(let operand):
            return .bool(!(try evaluateCondition(operand, input: input)))
        case .and(let operands):
            for operand in operands where !(try evaluateCondition(operand, input: input)) { return .bool(false) }
            return .bool(true)
        case .or(let operands):
            for operand in operands where try evaluateCondition(operand, input: input) { return .bool(true) }
            return .bool(false)
        case .list(let elements):
            var values: [Value] = []
            for element in elements { values.append(try evaluate(element, input: input)) }
            return .list(values)
        case .comparison(let op, let left, let right, let operatorLocation):
            let leftValue = try evaluate(left, input: input)
            let rightValue = try evaluate(right, input: input)
            guard let result = Self.compare(op, leftValue, rightValue) else {
                throw EvaluationError(
                    message: "`\(op.rawValue)` cannot compare \(leftValue.typeName) with \(rightValue.typeName) in `\(expression)`",
                    location: operatorLocation)
            }
            return .bool(result)
        case .like(let left, let pattern, let operatorLocation):
            guard case .string(let text) = try evaluate(left, input: input) else {
                throw EvaluationError(message: "`like` needs a string in `\(expression)`", location: operatorLocation)
            }
            return .bool(pattern.matches(text))
        }
    }
}
