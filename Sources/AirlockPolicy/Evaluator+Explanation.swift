extension Evaluator {
    /// Decides `input` and explains every rule. `sources` supplies the source lines, keyed by file name.
    public func explain(_ input: EvaluationInput, sources: [String: SourceFile] = [:]) -> Explanation {
        let explanations = rules.map { rule -> RuleExplanation in
            let outcome = evaluate(rule, input: input)
            let conditions = rule.conditions
            func failure(_ index: Int, _ expression: Expression, value: Bool?, error: String?) -> FailedCondition {
                FailedCondition(
                    polarity: conditions[index].polarity, expression: expression, value: value, error: error,
                    location: expression.location,
                    sourceLine: sources[expression.location.file]?.line(expression.location.line) ?? "",
                    observed: Self.attributes(in: expression).map { ObservedAttribute(path: $0, value: input[$0]) })
            }
            switch outcome {
            case .applies:
                return RuleExplanation(rule: rule.id, effect: rule.effect, location: rule.location, status: .applied, failure: nil)
            case .doesNotApply(let index):
                let wanted = conditions[index].polarity == .when
                let culprit = blame(conditions[index].expression, wanted: wanted, input: input)
                return RuleExplanation(rule: rule.id, effect: rule.effect, location: rule.location, status: .notApplied,
                    failure: failure(index, culprit, value: !wanted, error: nil))
            case .failed(let index, let error):
                let culprit = blameError(conditions[index].expression, input: input)
                return RuleExplanation(rule: rule.id, effect: rule.effect, location: rule.location, status: .failed,
                    failure: failure(index, culprit, value: nil, error: error.message))
            case .failedApprovers(let index, let error):
                // The attribute of `group(ATTR)`/`user(ATTR)`, where the `approvers` clause names it.
                let failure = rule.approvers[index].approvers.attribute.map { path, location in
                    FailedCondition(
                        polarity: .when, expression: Expression(.attribute(path), at: location), value: nil,
                        error: error.message, location: location,
                        sourceLine: sources[location.file]?.line(location.line) ?? "",
                        observed: [ObservedAttribute(path: path, value: input[path])], inApprovers: true)
                }
                return RuleExplanation(rule: rule.id, effect: rule.effect, location: rule.location, status: .failed,
                    failure: failure)
            }
        }
        return Explanation(decision: decide(input), rules: explanations)
    }

    /// The most specific part of `expression` (which evaluated to `!wanted`) responsible for that.
    private func blame(_ expression: Expression, wanted: Bool, input: EvaluationInput) -> Expression {
        switch expression.kind {
        case .and(let operands) where wanted:
            for operand in operands where (try? evaluateCondition(operand, input: input)) == false {
                return blame(operand, wanted: true, input: input)
            }
            return expression
        case .or(let operands) where !wanted:
            for operand in operands where (try? evaluateCondition(operand, input: input)) == true {
                return blame(operand, wanted: false, input: input)
            }
            return expression
        default:
            return expression
        }
    }

    /// The most specific part of `expression` whose evaluation failed.
    private func blameError(_ expression: Expression, input: EvaluationInput) -> Expression {
        switch expression.kind {
        case .not(let operand):
            return blameError(operand, input: input)
        case .and(let operands), .or(let operands):
            for operand in operands {
                do {
                    _ = try evaluateCondition(operand, input: input)
                } catch {
                    return blameError(operand, input: input)
                }
            }
            return expression
        default:
            return expression
        }
    }

    /// The attributes `expression` reads or tests with `has`, in source order, without repeats.
    static func attributes(in expression: Expression) -> [AttributePath] {
        var seen: Set<AttributePath> = []
        var result: [AttributePath] = []
        func visit(_ expression: Expression) {
            switch expression.kind {
            case .attribute(let path), .has(let path):
                if seen.insert(path).inserted { result.append(path) }
            case .literal:
                break
            case .not(let operand):
                visit(operand)
            case .and(let operands), .or(let operands), .list(let operands):
                operands.forEach(visit)
            case .comparison(_, let left, let right, _):
                visit(left)
                visit(right)
            case .like(let left, _, _):
                visit(left)
            }
        }
        visit(expression)
        return result
    }
}
