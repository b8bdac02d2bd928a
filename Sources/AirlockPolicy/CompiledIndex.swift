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
    /// A key attribute, shared by every group keyed on it: its key values interned once for the whole set, so a
    /// decision looks its value up once, not once per group.
    struct KeySlot: Sendable {
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

    /// Two key numbers, one per key attribute of a two-key group.
    struct KeyPair: CompiledTableKey {
        var first: Int32
        var second: Int32

        var tableHash: UInt64 {
            let mixed = (UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))) &* 0x9e37_79b9_7f4a_7c15
            return mixed ^ (mixed >> 29)
        }
    }

    /// Rules sharing their key attributes (one or two) and set of earlier reads.
    ///
    /// The rules of key `k` are `postings[offsets[k]..<offsets[k + 1]]`: for a one-key group `k` is the key
    /// value's number in its ``KeySlot``, for a two-key group the number ``pairs`` gives the pair. A decision reads a
    /// contiguous run of rule indices and builds no collection.
    ///
    /// A class, so that visiting a group on the decision path retains one reference rather than copying every field.
    final class Group: Sendable {
        /// The ``CompiledIndex/keySlots`` position of the first key attribute (the earlier link).
        let first: Int
        /// The ``CompiledIndex/keySlots`` position of the second key attribute (a later link), or nil.
        let second: Int?
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

        fileprivate init(_ builder: GroupBuilder, keyCount: Int) {
            first = builder.first
            second = builder.second
            pairs = builder.pairs
            prefixSlots = builder.prefixSlots
            hasMultiKeyRule = builder.hasMultiKeyRule
            all = builder.all
            var offsets: ContiguousArray<Int32> = [0]
            var postings: ContiguousArray<Int32> = []
            for key in 0..<keyCount {
                if key < builder.rulesByKey.count { postings.append(contentsOf: builder.rulesByKey[key].lazy.map { Int32($0) }) }
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
        var first: Int
        var second: Int?
        var pairs = CompiledTable<KeyPair>()
        var prefixSlots: [Int]
        var hasMultiKeyRule = false
        var all: [Int] = []
        /// The rules of each key number.
        var rulesByKey: [[Int]] = []

        mutating func add(_ ruleIndex: Int, toKey number: Int32) {
            while rulesByKey.count <= Int(number) { rulesByKey.append([]) }
            rulesByKey[Int(number)].append(ruleIndex)
        }
    }

    /// At most this many value pairs for a rule keyed on two attributes; a rule with more is keyed on one.
    static let maximumPairsPerRule = 64

    /// Rules evaluated for every input.
    private(set) var unindexed: [Int] = []
    /// The keyed groups.
    private(set) var groups: [Group] = []
    /// The key attributes of the groups.
    private var keySlots: [KeySlot] = []

    /// Indexes `rules` (AST, same order as `compiled`); rules that never apply are left out entirely.
    init(rules: [Rule], compiled: [CompiledRule], layout: inout CompiledLayout, schema: Schema) {
        let finder = IndexKeyFinder(schema: schema)
        let candidatesByRule = rules.map { finder.keys(of: $0) }
        // Prefer the keys whose attributes tell rules apart best: the most distinct key values overall.
        var distinct: [AttributePath: Set<IndexKeyFinder.KeyValue>] = [:]
        for candidates in candidatesByRule {
            for key in candidates { distinct[key.path, default: []].formUnion(key.values) }
        }
        var keySlotIndex: [Int: Int] = [:]
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
            var keyPositions: [Int] = []
            for key in keys {
                let slot = layout.slot(for: key.path)
                if let existing = keySlotIndex[slot] {
                    keyPositions.append(existing)
                } else {
                    keySlotIndex[slot] = keySlots.count
                    keyPositions.append(keySlots.count)
                    keySlots.append(KeySlot(slot: slot, isMember: key.isMember))
                }
            }
            let prefixSlots = Array(Set(keys[keys.count - 1].prefixReads.map { layout.slot(for: $0) })).sorted()
            let id = GroupID(keySlots: keyPositions, prefixSlots: prefixSlots)
            let position: Int
            if let existing = groupIndex[id] {
                position = existing
            } else {
                position = groups.count
                groupIndex[id] = position
                groups.append(GroupBuilder(first: keyPositions[0], second: keyPositions.count > 1 ? keyPositions[1] : nil, prefixSlots: prefixSlots))
            }
            groups[position].all.append(ruleIndex)
            if keys.contains(where: { $0.isMember && $0.values.count > 1 }) { groups[position].hasMultiKeyRule = true }
            if keys.count == 1 {
                for value in keys[0].values {
                    groups[position].add(ruleIndex, toKey: keySlots[keyPositions[0]].intern(value))
                }
                continue
            }
            for firstValue in keys[0].values {
                let firstNumber = keySlots[keyPositions[0]].intern(firstValue)
                for secondValue in keys[1].values {
                    let secondNumber = keySlots[keyPositions[1]].intern(secondValue)
                    let number = groups[position].pairs.intern(KeyPair(first: firstNumber, second: secondNumber))
                    groups[position].add(ruleIndex, toKey: number)
                }
            }
        }
        let built = keySlots
        self.groups = groups.map { group in
            Group(group, keyCount: group.second == nil ? built[group.first].scalars.count + built[group.first].members.count : group.pairs.count)
        }
    }

    private struct GroupID: Hashable {
        var keySlots: [Int]
        var prefixSlots: [Int]
    }

    /// What a decision found for a scalar key attribute, before visiting any group.
    private static let notWellTyped: Int32 = -2
    private static let noSuchKey: Int32 = -1

    /// Calls `body` with the index of every rule `frame` must evaluate, each once; every other rule does not apply.
    @inline(__always)
    func forEachCandidate(in frame: CompiledFrame, _ body: (Int) -> Void) {
        for ruleIndex in unindexed { body(ruleIndex) }
        // Each scalar key attribute's value is looked up once: its number, noSuchKey, or notWellTyped.
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: keySlots.count) { numbers in
            for position in keySlots.indices {
                let slot = keySlots[position].slot
                if frame.state(slot) != .wellTyped {
                    numbers[position] = Self.notWellTyped
                } else if keySlots[position].isMember {
                    numbers[position] = Self.noSuchKey
                } else if let value = frame.values[slot], let number = keySlots[position].scalars.value(of: value) {
                    numbers[position] = number
                } else {
                    numbers[position] = Self.noSuchKey
                }
            }
            let numbers = UnsafeBufferPointer(numbers)
            for group in groups {
                guard group.hasMultiKeyRule else {
                    forEachCandidate(of: group, in: frame, numbers: numbers, body)
                    continue
                }
                // A rule keyed on several elements may be reached through more than one of them.
                var reached: [Int] = []
                forEachCandidate(of: group, in: frame, numbers: numbers) { reached.append($0) }
                reached.sort()
                var previous = -1
                for ruleIndex in reached where ruleIndex != previous {
                    body(ruleIndex)
                    previous = ruleIndex
                }
            }
        }
    }

    /// Visits the rules of `group` that `frame` must evaluate, given the numbers of the scalar key values.
    @inline(__always)
    private func forEachCandidate(of group: Group, in frame: CompiledFrame, numbers: UnsafeBufferPointer<Int32>, _ body: (Int) -> Void) {
        let first = group.first
        let second = group.second ?? first
        guard numbers[first] != Self.notWellTyped, numbers[second] != Self.notWellTyped,
            group.prefixSlots.allSatisfy(frame.isSafe)
        else {
            for ruleIndex in group.all { body(ruleIndex) }
            return
        }
        if !keySlots[first].isMember {
            let firstNumber = numbers[first]
            if firstNumber >= 0 { visit(group, firstNumber: firstNumber, in: frame, numbers: numbers, body) }
        } else if case .set(let elements)? = frame.values[keySlots[first].slot] {
            for element in elements {
                if let firstNumber = keySlots[first].members.value(of: element) {
                    visit(group, firstNumber: firstNumber, in: frame, numbers: numbers, body)
                }
            }
        }
    }

    /// Visits the rules of a first key number, and for a two-key group of each of its pairs with the second key's numbers.
    @inline(__always)
    private func visit(_ group: Group, firstNumber: Int32, in frame: CompiledFrame, numbers: UnsafeBufferPointer<Int32>, _ body: (Int) -> Void) {
        guard let second = group.second else {
            for ruleIndex in group.rules(ofKey: firstNumber) { body(Int(ruleIndex)) }
            return
        }
        if !keySlots[second].isMember {
            let secondNumber = numbers[second]
            if secondNumber >= 0, let key = group.pairs.value(of: KeyPair(first: firstNumber, second: secondNumber)) {
                for ruleIndex in group.rules(ofKey: key) { body(Int(ruleIndex)) }
            }
        } else if case .set(let elements)? = frame.values[keySlots[second].slot] {
            for element in elements {
                if let secondNumber = keySlots[second].members.value(of: element),
                    let key = group.pairs.value(of: KeyPair(first: firstNumber, second: secondNumber))
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
