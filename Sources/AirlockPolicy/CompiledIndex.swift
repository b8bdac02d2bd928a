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
///
/// A rule with two keys on different attributes is keyed on both (links *i* < *k*): it may be left out when
/// both key attributes are present with their schema types, every attribute read by links *0..<k* is safe as
/// above, and the pair of values is not one of the rule's pairs; then link *i* is false, or link *i* holds and
/// link *k* is false, each without error. On a large organisation's rules (`principal.team == T and
/// resource.service == S ...`) this leaves a decision one or two rules per group instead of every rule of the
/// service.
struct CompiledIndex: Sendable {
    /// One keyed attribute of a group: its slot, whether it is keyed by set element, and its key values as
    /// dense integers.
    struct Dimension: Sendable {
        /// The slot of the key attribute.
        let slot: Int
        /// Whether the key is a set element (`in`/`contains`/`contains_any`/`contains_all` on a Set<String>).
        let isMember: Bool
        /// Scalar key values (`==`, `in [...]`, Bool attributes) to numbers.
        var scalars = CompiledTable<Value>()
        /// Set elements to numbers.
        var members = CompiledTable<String>()

        init(slot: Int, isMember: Bool) {
            self.slot = slot
            self.isMember = isMember
        }

        /// The number of a key value, interned at load.
        mutating func intern(_ value: IndexKeyFinder.KeyValue) -> Int32 {
            switch value {
            case .scalar(let scalar): scalars.intern(scalar)
            case .member(let element): members.intern(element)
            }
        }
    }

    /// Two key numbers, one per dimension of a two-key group.
    struct KeyPair: CompiledTableKey {
        var first: Int32
        var second: Int32

        var tableHash: UInt64 {
            let mixed = (UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))) &* 0x9e37_79b9_7f4a_7c15
            return mixed ^ (mixed >> 29)
        }
    }

    /// Rules sharing their key attributes (one or two), kinds of key and set of earlier reads.
    ///
    /// Key values are interned per group to dense integers at load (a pair of them through ``pairs``); the rules
    /// of key `k` are `postings[offsets[k]..<offsets[k + 1]]`, so a decision hashes its values once per group and
    /// reads a contiguous run of rule indices, building no collection.
    ///
    /// A class, so that visiting a group on the decision path retains one reference rather than copying every field.
    final class Group: Sendable {
        /// The first key attribute (the earlier link). Its fields are stored flat, as are the second's, so that the
        /// decision path reads them in place rather than copying a ``Dimension`` out.
        let firstSlot: Int
        let firstIsMember: Bool
        let firstScalars: CompiledTable<Value>
        let firstMembers: CompiledTable<String>
        /// The second key attribute (a later link), for a two-key group; nil for a one-key group.
        let secondSlot: Int?
        let secondIsMember: Bool
        let secondScalars: CompiledTable<Value>
        let secondMembers: CompiledTable<String>
        /// Pairs of first and second key numbers to key numbers, for a two-key group.
        let pairs: CompiledTable<KeyPair>
        /// The slots read by the links before the (last) key, which must all be safe for a skip.
        let prefixSlots: [Int]
        /// Whether one input can reach a rule through several keys (a rule with several set elements as keys).
        let hasMultiKeyRule: Bool
        /// Every rule of the group, evaluated when a skip is not allowed.
        let all: [Int]
        /// Where the rules of each key number start in ``postings`` (one more entry than keys).
        let offsets: ContiguousArray<Int32>
        /// The rule indices of every key, key after key.
        let postings: ContiguousArray<Int32>

        fileprivate init(_ builder: GroupBuilder) {
            firstSlot = builder.first.slot
            firstIsMember = builder.first.isMember
            firstScalars = builder.first.scalars
            firstMembers = builder.first.members
            secondSlot = builder.second?.slot
            secondIsMember = builder.second?.isMember ?? false
            secondScalars = builder.second?.scalars ?? CompiledTable()
            secondMembers = builder.second?.members ?? CompiledTable()
            pairs = builder.pairs
            prefixSlots = builder.prefixSlots
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
        var first: Dimension
        var second: Dimension?
        var pairs = CompiledTable<KeyPair>()
        var prefixSlots: [Int]
        var hasMultiKeyRule = false
        var all: [Int] = []
        /// The rules of each key number.
        var rulesByKey: [[Int]] = []

        mutating func add(_ ruleIndex: Int, toKey number: Int32) {
            if Int(number) == rulesByKey.count { rulesByKey.append([]) }
            rulesByKey[Int(number)].append(ruleIndex)
        }
    }

    /// At most this many value pairs for a rule keyed on two attributes; a rule with more is keyed on one.
    static let maximumPairsPerRule = 64

    /// Rules evaluated for every input.
    private(set) var unindexed: [Int] = []
    /// The keyed groups.
    private(set) var groups: [Group] = []

    /// Indexes `rules` (AST, same order as `compiled`); rules that never apply are left out entirely.
    init(rules: [Rule], compiled: [CompiledRule], layout: inout CompiledLayout, schema: Schema) {
        let finder = IndexKeyFinder(schema: schema)
        let candidatesByRule = rules.map { finder.keys(of: $0) }
        // Prefer the keys whose attributes tell rules apart best: the most distinct key values overall.
        var distinct: [AttributePath: Set<IndexKeyFinder.KeyValue>] = [:]
        for candidates in candidatesByRule {
            for key in candidates { distinct[key.path, default: []].formUnion(key.values) }
        }
        var groupIndex: [GroupID: Int] = [:]
        var groups: [GroupBuilder] = []
        for (ruleIndex, candidates) in candidatesByRule.enumerated() where !compiled[ruleIndex].neverApplies {
            func better(_ lhs: (offset: Int, element: IndexKeyFinder.Key), _ rhs: (offset: Int, element: IndexKeyFinder.Key)) -> Bool {
                let (left, right) = (distinct[lhs.element.path]?.count ?? 0, distinct[rhs.element.path]?.count ?? 0)
                return left != right ? left < right : lhs.offset > rhs.offset
            }
            guard let best = candidates.enumerated().max(by: better) else {
                unindexed.append(ruleIndex)
                continue
            }
            let runnerUp = candidates.enumerated().filter { $0.element.path != best.element.path }.max(by: better)
            // Two keys, in chain order, when their value pairs are few enough; else the best one alone.
            let keys: [IndexKeyFinder.Key] =
                if let runnerUp, best.element.values.count * runnerUp.element.values.count <= Self.maximumPairsPerRule {
                    best.offset < runnerUp.offset ? [best.element, runnerUp.element] : [runnerUp.element, best.element]
                } else {
                    [best.element]
                }
            let dimensions = keys.map { Dimension(slot: layout.slot(for: $0.path), isMember: $0.isMember) }
            let prefixSlots = Array(Set(keys[keys.count - 1].prefixReads.map { layout.slot(for: $0) })).sorted()
            let id = GroupID(
                slots: dimensions.map(\.slot), isMember: dimensions.map(\.isMember), prefixSlots: prefixSlots)
            let position: Int
            if let existing = groupIndex[id] {
                position = existing
            } else {
                position = groups.count
                groupIndex[id] = position
                groups.append(GroupBuilder(first: dimensions[0], second: dimensions.count > 1 ? dimensions[1] : nil, prefixSlots: prefixSlots))
            }
            groups[position].all.append(ruleIndex)
            if keys.contains(where: { $0.isMember && $0.values.count > 1 }) { groups[position].hasMultiKeyRule = true }
            if keys.count == 1 {
                for value in keys[0].values {
                    groups[position].add(ruleIndex, toKey: groups[position].first.intern(value))
                }
                continue
            }
            for firstValue in keys[0].values {
                let firstNumber = groups[position].first.intern(firstValue)
                for secondValue in keys[1].values {
                    guard let secondNumber = groups[position].second?.intern(secondValue) else { continue }
                    let number = groups[position].pairs.intern(KeyPair(first: firstNumber, second: secondNumber))
                    groups[position].add(ruleIndex, toKey: number)
                }
            }
        }
        self.groups = groups.map(Group.init)
    }

    private struct GroupID: Hashable {
        var slots: [Int]
        var isMember: [Bool]
        var prefixSlots: [Int]
    }

    /// Calls `body` with the index of every rule `frame` must evaluate, each once; every other rule does not apply.
    @inline(__always)
    func forEachCandidate(in frame: CompiledFrame, _ body: (Int) -> Void) {
        for ruleIndex in unindexed { body(ruleIndex) }
        for group in groups {
            guard group.hasMultiKeyRule else {
                Self.forEachCandidate(of: group, in: frame, body)
                continue
            }
            // A rule keyed on several elements may be reached through more than one of them.
            var reached: [Int] = []
            Self.forEachCandidate(of: group, in: frame) { reached.append($0) }
            reached.sort()
            var previous = -1
            for ruleIndex in reached where ruleIndex != previous {
                body(ruleIndex)
                previous = ruleIndex
            }
        }
    }

    /// Visits the rules of `group` that `frame` must evaluate. Written without closures and reading group fields
    /// through the reference, so that a decision retains nothing per group beyond the group itself.
    @inline(__always)
    private static func forEachCandidate(of group: Group, in frame: CompiledFrame, _ body: (Int) -> Void) {
        guard frame.states[group.firstSlot] == .wellTyped, group.prefixSlots.allSatisfy(frame.isSafe),
            let firstValue = frame.values[group.firstSlot]
        else {
            for ruleIndex in group.all { body(ruleIndex) }
            return
        }
        var secondValue: Value?
        if let secondSlot = group.secondSlot {
            guard frame.states[secondSlot] == .wellTyped, let value = frame.values[secondSlot] else {
                for ruleIndex in group.all { body(ruleIndex) }
                return
            }
            secondValue = value
        }
        // Well-typed values have their dimension's shape: a set for a member key, a scalar otherwise.
        if !group.firstIsMember {
            if let key = group.firstScalars.value(of: firstValue) {
                visit(group, firstKey: key, secondValue: secondValue, body)
            }
        } else if case .set(let elements) = firstValue {
            for element in elements {
                if let key = group.firstMembers.value(of: element) {
                    visit(group, firstKey: key, secondValue: secondValue, body)
                }
            }
        }
    }

    /// Visits the rules of a first key number, and for a two-key group of each of its pairs with `secondValue`'s keys.
    @inline(__always)
    private static func visit(_ group: Group, firstKey: Int32, secondValue: Value?, _ body: (Int) -> Void) {
        guard let secondValue else {
            for ruleIndex in group.rules(ofKey: firstKey) { body(Int(ruleIndex)) }
            return
        }
        if !group.secondIsMember {
            if let secondKey = group.secondScalars.value(of: secondValue),
                let key = group.pairs.value(of: KeyPair(first: firstKey, second: secondKey))
            {
                for ruleIndex in group.rules(ofKey: key) { body(Int(ruleIndex)) }
            }
        } else if case .set(let elements) = secondValue {
            for element in elements {
                if let secondKey = group.secondMembers.value(of: element),
                    let key = group.pairs.value(of: KeyPair(first: firstKey, second: secondKey))
                {
                    for ruleIndex in group.rules(ofKey: key) { body(Int(ruleIndex)) }
                }
            }
        }
    }

    /// The indices of the rules `frame` must evaluate, each once, in no particular order.
    func candidates(for frame: CompiledFrame) -> [Int] {
        var result: [Int] = []
        forEachCandidate(in: frame) { result.append($0) }
        return result
    }
}
