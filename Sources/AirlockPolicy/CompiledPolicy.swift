/// The fourth stage: a validated policy set compiled for fast decisions.
///
/// Expressions become closures over attribute slots (an attribute is looked up once per decision, not
/// once per read), constant subexpressions are folded, literal lists become hash sets and CIDR lists are
/// parsed once, and rules are indexed by the equality and group-membership tests they start with so a
/// decision evaluates only the rules that can apply (see ``CompiledIndex`` for the exact skip rule).
///
/// Every decision, errors included, equals the reference ``Evaluator``'s; a differential test holds it to that.
public struct CompiledPolicy: Sendable {
    private let rules: [CompiledRule]
    /// The position of each rule's id in the id-sorted order of the set, so sorting applying rules sorts integers.
    private let ranks: ContiguousArray<Int32>
    private let layout: CompiledLayout
    private let index: CompiledIndex

    /// The compiled form of a loaded (and so validated) policy set.
    public init(_ policySet: PolicySet) {
        self = policySet.compiled
    }

    /// Compiles validated rules; the schema must be the one they were validated against.
    init(rules: [Rule], schema: Schema) {
        var compiler = ExpressionCompiler(layout: CompiledLayout(schema: schema))
        let compiled = rules.map { CompiledRule($0, compiler: &compiler) }
        var ranks = ContiguousArray<Int32>(repeating: 0, count: compiled.count)
        for (rank, ruleIndex) in compiled.indices.sorted(by: { compiled[$0].id < compiled[$1].id }).enumerated() {
            ranks[ruleIndex] = Int32(rank)
        }
        self.ranks = ranks
        var layout = compiler.layout
        self.index = CompiledIndex(rules: rules, compiled: compiled, layout: &layout, schema: schema)
        self.layout = layout
        self.rules = compiled
    }

    /// How the set was compiled: for diagnostics and benchmarks.
    public struct Statistics: Sendable, Hashable {
        /// All rules of the set.
        public var rules: Int
        /// Rules evaluated for every request (no usable index key).
        public var unindexedRules: Int
        /// Rules reached through an index key.
        public var indexedRules: Int
        /// Rules that can never apply (a constant condition is false), never evaluated.
        public var deadRules: Int
        /// Index groups (rules sharing a key attribute and the attributes read before it).
        public var groups: Int
        /// Attribute slots.
        public var slots: Int
    }

    /// How the set was compiled.
    public var statistics: Statistics {
        let indexed = index.groups.reduce(0) { $0 + $1.all.count }
        return Statistics(
            rules: rules.count, unindexedRules: index.unindexed.count, indexedRules: indexed,
            deadRules: rules.count - indexed - index.unindexed.count, groups: index.groups.count,
            slots: layout.slots.count)
    }

    /// Decides one request, exactly as ``Evaluator/decide(_:)`` does.
    public func decide(_ input: EvaluationInput) -> Decision {
        let frame = layout.frame(for: input)
        var forbids: [Int] = []
        var permits: [Int] = []
        var approvals: [Int] = []
        var offered: [(rule: Int, approval: Decision.Approval)] = []
        var forbidErrors: [Decision.RuleError] = []
        var otherErrors: [Decision.RuleError] = []
        rules.withUnsafeBufferPointer { rules in
            index.forEachCandidate(in: frame) { ruleIndex in
                switch (rules[ruleIndex].effect, rules[ruleIndex].evaluate(frame)) {
                case (.forbid, .applies):
                    forbids.append(ruleIndex)
                case (.forbid, .failed(let error)):
                    forbids.append(ruleIndex)
                    forbidErrors.append(Decision.RuleError(rule: rules[ruleIndex].id, message: error.message))
                case (.permit, .applies):
                    permits.append(ruleIndex)
                case (.requireApproval, .applies):
                    approvals.append(ruleIndex)
                case (_, .appliesOffering(let approval)):
                    approvals.append(ruleIndex)
                    offered.append((ruleIndex, approval))
                case (_, .failed(let error)):
                    otherErrors.append(Decision.RuleError(rule: rules[ruleIndex].id, message: error.message))
                case (_, .doesNotApply):
                    break
                }
            }
        }
        let errors = forbidErrors.isEmpty && otherErrors.isEmpty ? [] : Self.sorted(forbidErrors + otherErrors)
        if !forbids.isEmpty {
            let deciding = sortedByID(forbids)
            return Decision(outcome: .deny, ttlSeconds: nil, rules: ids(deciding),
                notify: notify(deciding, forbids: []), errors: errors)
        }
        if !permits.isEmpty {
            let deciding = sortedByID(permits)
            return Decision(outcome: .permit, ttlSeconds: granted(deciding, frame: frame), rules: ids(deciding),
                notify: notify(deciding, forbids: forbids), errors: Self.sorted(forbidErrors))
        }
        if !approvals.isEmpty {
            let deciding = sortedByID(approvals)
            return Decision(outcome: .pendingApproval, ttlSeconds: granted(deciding, frame: frame),
                rules: ids(deciding), approvals: deciding.compactMap { ruleIndex in
                    rules[ruleIndex].approval ?? offered.first { $0.rule == ruleIndex }?.approval
                },
                notify: notify(deciding, forbids: forbids), errors: errors)
        }
        return Decision(outcome: .deny, ttlSeconds: nil, rules: [], errors: errors)
    }

    /// The ids of the rules a decision on `input` evaluates (the others cannot apply), in id order.
    func evaluatedRuleIDs(for input: EvaluationInput) -> [String] {
        sortedByID(index.candidates(for: layout.frame(for: input))).map { rules[$0].id }
    }

    private func sortedByID(_ indices: [Int]) -> [Int] {
        guard indices.count > 1 else { return indices }
        let ranks = ranks
        return indices.sorted { ranks[$0] < ranks[$1] }
    }

    /// The ids of `deciding`; a single rule's one-element list is built once at load.
    private func ids(_ deciding: [Int]) -> [String] {
        deciding.count == 1 ? rules[deciding[0]].idList : deciding.map { rules[$0].id }
    }

    /// min(request.ttl, largest cap among `deciding`); the cap alone when `request.ttl` is absent.
    private func granted(_ deciding: [Int], frame: CompiledFrame) -> Int64 {
        var cap = Int64.min
        for ruleIndex in deciding { cap = max(cap, rules[ruleIndex].ttlSeconds) }
        if deciding.isEmpty { cap = Rule.defaultTTLSeconds }
        guard case .duration(let requested)? = frame.values[CompiledLayout.requestTTLSlot] else { return cap }
        return min(requested, cap)
    }

    /// The channels of the deciding rules and of every applying `forbid`, sorted and unique. When one rule
    /// alone has channels, its list sorted at load is the answer.
    private func notify(_ deciding: [Int], forbids: [Int]) -> [String] {
        var only: Int?
        var several = false
        for ruleIndex in deciding where !rules[ruleIndex].notify.isEmpty {
            if let first = only, first != ruleIndex { several = true } else { only = ruleIndex }
        }
        for ruleIndex in forbids where !rules[ruleIndex].notify.isEmpty {
            if let first = only, first != ruleIndex { several = true } else { only = ruleIndex }
        }
        if several {
            var channels: Set<String> = []
            for ruleIndex in deciding { channels.formUnion(rules[ruleIndex].notify) }
            for ruleIndex in forbids { channels.formUnion(rules[ruleIndex].notify) }
            return channels.sorted()
        }
        return only.map { rules[$0].sortedNotify } ?? []
    }

    private static func sorted(_ errors: [Decision.RuleError]) -> [Decision.RuleError] {
        errors.count < 2 ? errors : errors.sorted { ($0.rule, $0.message) < ($1.rule, $1.message) }
    }
}
