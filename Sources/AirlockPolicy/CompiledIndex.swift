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
    ///
    /// Key values are interned per group to dense integers at load; the rules of key `k` are
    /// `postings[offsets[k]..<offsets[k + 1]]`, so a decision hashes its value once per group and reads a
    /// contiguous run of rule indices, building no collection.
    ///
    /// A class, so that visiting a group on the decision path retains one reference rather than copying every field.
    final class Group: Sendable {
        /// The slot of the key attribute.
        let slot: Int
        /// The slots read by the links before the key, which must all be safe for a skip.
        let prefixSlots: [Int]
        /// Scalar key values (`==`, `in [...]`, Bool attributes) to key numbers.
        let scalarKeys: CompiledTable<Value>
        /// Set elements (`in`/`contains`/`contains_any`/`contains_all` on a Set<String>) to key numbers.
        let memberKeys: CompiledTable<String>
        /// Whether the key is a set element.
        let isMember: Bool
        /// Whether some rule has several member keys, so one set can select it twice.
        let hasMultiKeyRule: Bool
        /// Every rule of the group, evaluated when a skip is not allowed.
        let all: [Int]
        /// Where the rules of each key number start in ``postings`` (one more entry than keys).
        let offsets: ContiguousArray<Int32>
        /// The rule indices of every key, key after key.
        let postings: ContiguousArray<Int32>

        fileprivate init(_ builder: GroupBuilder) {
            slot = builder.slot
            prefixSlots = builder.prefixSlots
            scalarKeys = builder.scalarKeys
            memberKeys = builder.memberKeys
            isMember = builder.isMember
            hasMultiKeyRule = builder.hasMultiKeyRule
            all = builder.all
            var offsets: ContiguousArray<Int32> = [0]
            var postings: ContiguousArray<Int32> = []
            for keyRules in builder.rulesByKey {
                postings.append(contentsOf: keyRules.lazy.map { Int32($0) })
                offsets.append(Int32(postings.count))
            }
            self.offsets = offsets
            self.postings = postings
        }

        /// The rules of key number `key`.
        @inline(__always)
        func rules(ofKey key: Int32) -> ArraySlice<Int32> {
            postings[Int(offsets[Int(key)])..<Int(offsets[Int(key) + 1])]
        }
    }

    /// A ``Group`` while the index is built.
    fileprivate struct GroupBuilder {
        var slot: Int
        var prefixSlots: [Int]
        var scalarKeys = CompiledTable<Value>()
        var memberKeys = CompiledTable<String>()
        var isMember: Bool
        var hasMultiKeyRule = false
        var all: [Int] = []
        /// The rules of each key number.
        var rulesByKey: [[Int]] = []
    }

    /// Rules evaluated for every input.
    private(set) var unindexed: [Int] = []
    /// The keyed groups.
    private(set) var groups: [Group] = []

    /// Indexes `rules` (AST, same order as `compiled`); rules that never apply are left out entirely.
    init(rules: [Rule], compiled: [CompiledRule], layout: inout CompiledLayout, schema: Schema) {
        let finder = IndexKeyFinder(schema: schema)
        let candidatesByRule = rules.map { finder.keys(of: $0) }
        // Prefer the key whose attribute tells rules apart best: the most distinct key values overall.
        var distinct: [AttributePath: Set<IndexKeyFinder.KeyValue>] = [:]
        for candidates in candidatesByRule {
            for key in candidates { distinct[key.path, default: []].formUnion(key.values) }
        }
        var groupIndex: [GroupID: Int] = [:]
        var groups: [GroupBuilder] = []
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
                groups.append(GroupBuilder(slot: slot, prefixSlots: prefixSlots, isMember: key.isMember))
            }
            groups[position].all.append(ruleIndex)
            for value in key.values {
                let number: Int32
                switch value {
                case .scalar(let scalar): number = groups[position].scalarKeys.intern(scalar)
                case .member(let element): number = groups[position].memberKeys.intern(element)
                }
                if Int(number) == groups[position].rulesByKey.count { groups[position].rulesByKey.append([]) }
                groups[position].rulesByKey[Int(number)].append(ruleIndex)
            }
            if key.isMember, key.values.count > 1 { groups[position].hasMultiKeyRule = true }
        }
        self.groups = groups.map(Group.init)
    }

    private struct GroupID: Hashable {
        var slot: Int
        var isMember: Bool
        var prefixSlots: [Int]
    }

    /// Calls `body` with the index of every rule `frame` must evaluate, each once; every other rule does not apply.
    @inline(__always)
    func forEachCandidate(in frame: CompiledFrame, _ body: (Int) -> Void) {
        for ruleIndex in unindexed { body(ruleIndex) }
        for group in groups { Self.forEachCandidate(of: group, in: frame, body) }
    }

    @inline(__always)
    private static func forEachCandidate(of group: Group, in frame: CompiledFrame, _ body: (Int) -> Void) {
        guard frame.states[group.slot] == .wellTyped, group.prefixSlots.allSatisfy(frame.isSafe),
            let value = frame.values[group.slot]
        else {
            for ruleIndex in group.all { body(ruleIndex) }
            return
        }
        if !group.isMember {
            if let key = group.scalarKeys.value(of: value) {
                for ruleIndex in group.rules(ofKey: key) { body(Int(ruleIndex)) }
            }
            return
        }
        guard case .set(let elements) = value else {
            for ruleIndex in group.all { body(ruleIndex) }
            return
        }
        guard group.hasMultiKeyRule else {
            for element in elements {
                if let key = group.memberKeys.value(of: element) {
                    for ruleIndex in group.rules(ofKey: key) { body(Int(ruleIndex)) }
                }
            }
            return
        }
        // A rule keyed on several elements may be reached through more than one of them.
        var reached: [Int32] = []
        for element in elements {
            if let key = group.memberKeys.value(of: element) { reached += group.rules(ofKey: key) }
        }
        reached.sort()
        var previous: Int32 = -1
        for ruleIndex in reached where ruleIndex != previous {
            body(Int(ruleIndex))
            previous = ruleIndex
        }
    }

    /// The indices of the rules `frame` must evaluate, each once, in no particular order.
    func candidates(for frame: CompiledFrame) -> [Int] {
        var result: [Int] = []
        forEachCandidate(in: frame) { result.append($0) }
        return result
    }
}
