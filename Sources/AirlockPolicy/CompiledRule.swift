/// How a compiled rule came out for one input; the reference's ``RuleOutcome`` without the condition index,
/// which no decision reports.
enum CompiledOutcome: Sendable {
    case applies
    case doesNotApply
    case failed(EvaluationError)
}

/// A rule ready to evaluate: its condition chain compiled and folded, its decision data precomputed.
struct CompiledRule: Sendable {
    /// One link of the rule's `when`/`unless` chain: the condition and the value it must have.
    struct Link: Sendable {
        var code: CompiledPredicate
        var expected: Bool
    }

    let id: String
    let effect: Effect
    let ttlSeconds: Int64
    let notify: [String]
    /// The approval alternative this rule offers (`require_approval` only).
    let approval: Decision.Approval?
    /// The chain, with links that always hold dropped and everything after a constant link cut off.
    let links: [Link]
    /// Whether the chain is decided without reading the input: the rule never applies, for any input.
    let neverApplies: Bool
    /// The position of ``id`` in the id-sorted order of the set, so sorting applying rules sorts integers.
    var rank = 0

    init(_ rule: Rule, compiler: inout ExpressionCompiler) {
        id = rule.id
        effect = rule.effect
        ttlSeconds = rule.ttlSeconds
        notify = rule.notify
        approval = rule.effect == .requireApproval
            ? Decision.Approval(rule: rule.id, requires: rule.approvers.map {
                guard let group = $0.fixedGroup else { preconditionFailure("TODO(issue 12): attribute approvers") }
                return Decision.Requirement.group(group, count: $0.count, includesServices: $0.includesServices)
            })
            : nil
        var links: [Link] = []
        var neverApplies = false
        for condition in rule.conditions {
            let expected = condition.polarity == .when
            let compiled = compiler.condition(condition.expression)
            switch compiled.constant {
            case .success(let value)? where value == expected:
                continue
            case .success?:
                neverApplies = links.isEmpty
                links.append(Link(code: compiled.code, expected: expected))
            case .failure?:
                links.append(Link(code: compiled.code, expected: expected))
            case nil:
                links.append(Link(code: compiled.code, expected: expected))
                continue
            }
            break
        }
        self.links = links
        self.neverApplies = neverApplies
    }

    /// Evaluates the chain left to right; the first link that fails or does not hold decides.
    func evaluate(_ frame: CompiledFrame) -> CompiledOutcome {
        for link in links {
            do throws(EvaluationError) {
                if try link.code(frame) != link.expected { return .doesNotApply }
            } catch {
                return .failed(error)
            }
        }
        return .applies
    }
}
