/// The rule index of a compiled policy set: which rules a decision must evaluate.
///
/// A rule's `when`/`unless` clauses form one `and` chain; flattened (`when A and B`, `unless A or B`,
/// `not` pushed inward) it is a list of links evaluated left to right until one does not hold or fails.
/// An *index key* is a link that holds only when one attribute has one of a few values:
/// `resource.env == "prod"`, `request.role in ["a", "b"]`, `unless resource.env != "prod"`,
/// `request.break_glass`, `"sre" in principal.groups`, `principal.groups contains "x"`,
/// `principal.groups contains_any [...]`, `contains_all [...]` (keyed on its first element).
///
/// The skip rule: a rule keyed on link *k* may be left out only when (1) the key attribute is present
/// with its schema type and has none of the key values, so link *k* is false without error, and
/// (2) every attribute read by links *0..<k* is present with its schema type, or is an absent optional
/// attribute (which a validated rule reads only behind a false `has`), so no earlier link can fail.
/// Then the reference evaluation ends at or before link *k* with "does not apply". Otherwise (the key
/// attribute absent or mistyped, or an earlier read possibly failing) the rule is evaluated in full,
/// which reproduces any error exactly.
struct CompiledIndex: Sendable {
    /// Rules sharing a key attribute, kind of key and set of earlier reads.
    struct Group: Sendable {
        /// The slot of the key attribute.
        var slot: Int
        /// The slots read by the links before the key, which must all be safe for a skip.
        var prefixSlots: [Int]
        /// Rule indices by scalar key value (`==`, `in [...]`, Bool attributes).
        var scalar: [Value: [Int]] = [:]
        /// Rule indices by set element (`in`/`contains`/`contains_any`/`contains_all` on a Set<String>).
        var member: [String: [Int]] = [:]
        /// Whether the key is a set element.
        var isMember: Bool
        /// Whether some rule has several member keys, so one set can select it twice.
        var hasMultiKeyRule = false
        /// Every rule of the group, evaluated when a skip is not allowed.
        var all: [Int] = []
    }

    /// Rules evaluated for every input.
    private(set) var unindexed: [Int] = []
    /// The keyed groups.
    private(set) var groups: [Group] = []

    /// Indexes `rules` (AST, same order as `compiled`); rules that never apply are left out entirely.
    init(rules: [Rule], compiled: [CompiledRule], layout: inout CompiledLayout, schema: Schema) {
        let candidatesByRule = rules.map { IndexKeyFinder(schema: schema).keys(of: $0) }
        // Prefer the key whose attribute tells rules apart best: the most distinct key values overall.
        var distinct: [AttributePath: Set<IndexKeyFinder.KeyValue>] = [:]
        for candidates in candidatesByRule {
            for key in candidates { distinct[key.path, default: []].formUnion(key.values) }
        }
        var groupIndex: [GroupID: Int] = [:]
        for (ruleIndex, candidates) in candidatesByRule.enumerated() where !compiled[ruleIndex].neverApplies {
            let best = candidates.enumerated().max { lhs, rhs in
                let (left, right) = (distinct[lhs.element.path]?.count ?? 0, distinct[rhs.element.path]?.count ?? 0)
                return left != right ? left < right : lhs.offset > rhs.offset
            }?.element
            guard let key = best else {
                unindexed.append(ruleIndex)
                continue
            }
            let slot = layout.slot(for: key.path)
            let prefixSlots = Array(Set(key.prefixReads.map { layout.slot(for: $0) })).sorted()
            let id = GroupID(slot: slot, isMember: key.isMember, prefixSlots: prefixSlots)
            let position: Int
            if let existing = groupIndex[id] {
                position = existing
            } else {
                position = groups.count
                groupIndex[id] = position
                groups.append(Group(slot: slot, prefixSlots: prefixSlots, isMember: key.isMember))
            }
            groups[position].all.append(ruleIndex)
            for value in key.values {
                switch value {
                case .scalar(let scalar): groups[position].scalar[scalar, default: []].append(ruleIndex)
                case .member(let element): groups[position].member[element, default: []].append(ruleIndex)
                }
            }
            if key.isMember, key.values.count > 1 { groups[position].hasMultiKeyRule = true }
        }
    }

    private struct GroupID: Hashable {
        var slot: Int
        var isMember: Bool
        var prefixSlots: [Int]
    }

    /// The indices of the rules `frame` must evaluate, each once; every other rule does not apply.
    func candidates(for frame: CompiledFrame) -> [Int] {
        var result = unindexed
        var mayRepeat = false
        for group in groups {
            guard frame.states[group.slot] == .wellTyped, group.prefixSlots.allSatisfy(frame.isSafe),
                let value = frame.values[group.slot]
            else {
                result += group.all
                continue
            }
            if !group.isMember {
                if let hits = group.scalar[value] { result += hits }
                continue
            }
            guard case .set(let elements) = value else {
                result += group.all
                continue
            }
            let before = result.count
            if elements.count <= group.member.count {
                for element in elements {
                    if let hits = group.member[element] { result += hits }
                }
            } else {
                for (element, hits) in group.member where elements.contains(element) { result += hits }
            }
            if group.hasMultiKeyRule, result.count > before { mayRepeat = true }
        }
        if mayRepeat {
            result.sort()
            var unique: [Int] = []
            unique.reserveCapacity(result.count)
            for index in result where unique.last != index { unique.append(index) }
            return unique
        }
        return result
    }
}
