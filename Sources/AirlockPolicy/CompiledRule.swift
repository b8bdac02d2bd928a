/// How a compiled rule came out for one input; the reference's ``RuleOutcome`` without the condition index,
/// which no decision reports.
enum CompiledOutcome: Sendable {
    /// The rule applies; a `require_approval` rule offers its precomputed ``CompiledRule/approval``.
    case applies
    /// A `require_approval` rule whose approvers are named by attributes applies, offering this alternative.
    case appliesOffering(Decision.Approval)
    case doesNotApply
    case failed(EvaluationError)
}

/// A rule ready to evaluate: its condition chain compiled and folded, its decision data precomputed.
///
/// A class, so that reaching a rule on the decision path retains one reference rather than copying every field.
final class CompiledRule: Sendable {
    /// One link of the rule's `when`/`unless` chain: the condition and the value it must have.
    struct Link: Sendable {
        var code: CompiledPredicate
        var expected: Bool
    }

    let id: String
    let effect: Effect
    let ttlSeconds: Int64
    let notify: [String]
    /// ``notify`` sorted and without duplicates, as a decision reports it.
    let sortedNotify: [String]
    /// `[id]`, built once: the `rules` of a decision that one rule decides.
    let idList: [String]
    /// One requirement of a `require_approval` rule whose approvers are named by attributes.
    enum Requirement: Sendable {
        /// `group("A")`: known before any input.
        case fixed(Decision.Requirement)
        /// `group(ATTR)` or `user(ATTR)`: read from this slot when the chain held.
        case read(ApproverRead, slot: Int)
    }

    /// The approval alternative of a `require_approval` rule whose requirements are all fixed groups,
    /// computed once; nil for other rules.
    let approval: Decision.Approval?
    /// The requirements of a `require_approval` rule that reads attributes to name approvers, in the order
    /// written; nil for other rules.
    let requirements: [Requirement]?
    /// The chain, with links that always hold dropped and everything after a constant link cut off.
    let links: [Link]
    /// Whether the chain is decided without reading the input: the rule never applies, for any input.
    let neverApplies: Bool

    init(_ rule: Rule, compiler: inout ExpressionCompiler) {
        id = rule.id
        effect = rule.effect
        ttlSeconds = rule.ttlSeconds
        notify = rule.notify
        sortedNotify = Array(Set(rule.notify)).sorted()
        idList = [rule.id]
        let requirements: [Requirement] = rule.approvers.map { requirement in
            switch requirement.approvers {
            case .group(let name):
                .fixed(Decision.Requirement(.group(name), count: requirement.count, includesServices: requirement.includesServices))
            case .groupNamedBy(let path, let location):
                .read(ApproverRead(path, at: location, namesUser: false, of: requirement), slot: compiler.layout.slot(for: path))
            case .userNamedBy(let path, let location):
                .read(ApproverRead(path, at: location, namesUser: true, of: requirement), slot: compiler.layout.slot(for: path))
            }
        }
        let fixed = requirements.compactMap { if case .fixed(let requirement) = $0 { requirement } else { nil } }
        switch rule.effect {
        case .requireApproval where fixed.count == requirements.count:
            approval = Decision.Approval(rule: rule.id, requires: fixed)
            self.requirements = nil
        case .requireApproval:
            approval = nil
            self.requirements = requirements
        case .permit, .forbid:
            approval = nil
            self.requirements = nil
        }
        // The chain flattened (`when A and B`, `unless A or B`, `not` pushed inward) evaluates exactly as the clauses
        // do, operand by operand, without a closure per `and`.
        var chain: [(expression: Expression, expected: Bool)] = []
        for condition in rule.conditions {
            IndexKeyFinder.flatten(condition.expression, expected: condition.polarity == .when, into: &chain)
        }
        var links: [Link] = []
        var neverApplies = false
        for (expression, expected) in chain {
            let compiled = compiler.condition(expression)
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

    /// Evaluates the chain left to right; the first link that fails or does not hold decides. When it held, the
    /// attributes naming approvers are read in the order written; the first that fails decides.
    func evaluate(_ frame: CompiledFrame) -> CompiledOutcome {
        for position in links.indices {
            do throws(EvaluationError) {
                if try links[position].code(frame) != links[position].expected { return .doesNotApply }
            } catch {
                return .failed(error)
            }
        }
        guard let requirements else { return .applies }
        var requires: [Decision.Requirement] = []
        requires.reserveCapacity(requirements.count)
        for requirement in requirements {
            switch requirement {
            case .fixed(let fixed):
                requires.append(fixed)
            case .read(let read, let slot):
                do throws(EvaluationError) {
                    requires.append(try read.requirement(frame.values[slot]))
                } catch {
                    return .failed(error)
                }
            }
        }
        return .appliesOffering(Decision.Approval(rule: id, requires: requires))
    }
}
