/// A key a ``CompiledTable`` can hold: hashed with FNV-1a over its bytes rather than with `Hasher`, whose
/// per-lookup seeding and finalisation cost more than a whole short-string hash on the decision path.
protocol CompiledTableKey: Equatable, Sendable {
    /// A hash of the key; equal keys have equal hashes.
    var tableHash: UInt64 { get }
}

/// An open-addressing map from keys fixed when a policy set is compiled to small integers (attribute slots,
/// interned index key values).
///
/// The table is filled only from the policy set; a decision only probes it. Input values choose which chain
/// is probed, never how long it is, so a crafted input cannot make a lookup slower than the longest chain of
/// the policy's own keys (FNV-1a is not collision-resistant, and need not be here).
struct CompiledTable<Key: CompiledTableKey>: Sendable {
    private var keys: ContiguousArray<Key?>
    private var hashes: ContiguousArray<UInt64>
    private var values: ContiguousArray<Int32>
    private var mask: Int
    /// The keys held.
    private(set) var count = 0

    init() {
        keys = ContiguousArray(repeating: nil, count: 8)
        hashes = ContiguousArray(repeating: 0, count: 8)
        values = ContiguousArray(repeating: 0, count: 8)
        mask = 7
    }

    /// The value of `key`, or nil.
    @inline(__always)
    func value(of key: Key) -> Int32? {
        let hash = key.tableHash
        var position = Int(truncatingIfNeeded: hash) & mask
        while true {
            guard let held = keys[position] else { return nil }
            if hashes[position] == hash, held == key { return values[position] }
            position = (position &+ 1) & mask
        }
    }

    /// The value of `key`, giving it the next integer (``count`` before the call) when new.
    mutating func intern(_ key: Key) -> Int32 {
        if let existing = value(of: key) { return existing }
        let value = Int32(count)
        insert(key, hash: key.tableHash, value: value)
        count += 1
        if count * 2 > keys.count { grow() }
        return value
    }

    private mutating func insert(_ key: Key, hash: UInt64, value: Int32) {
        var position = Int(truncatingIfNeeded: hash) & mask
        while keys[position] != nil { position = (position &+ 1) & mask }
        keys[position] = key
        hashes[position] = hash
        values[position] = value
    }

    private mutating func grow() {
        let old = (keys, hashes, values)
        let capacity = keys.count * 2
        keys = ContiguousArray(repeating: nil, count: capacity)
        hashes = ContiguousArray(repeating: 0, count: capacity)
        values = ContiguousArray(repeating: 0, count: capacity)
        mask = capacity - 1
        for position in old.0.indices {
            if let key = old.0[position] { insert(key, hash: old.1[position], value: old.2[position]) }
        }
    }

    /// FNV-1a over the UTF-8 bytes of `text`, started from `seed`, with the high bits folded into the low ones
    /// (the table indexes with the low bits).
    @inline(__always)
    static func hash(_ text: String, seed: UInt64) -> UInt64 {
        @inline(__always)
        func fold(_ bytes: some Sequence<UInt8>) -> UInt64 {
            var hash = seed ^ 0xcbf2_9ce4_8422_2325
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            return hash ^ (hash >> 29) ^ (hash >> 47)
        }
        return text.utf8.withContiguousStorageIfAvailable { fold($0) } ?? fold(text.utf8)
    }
}

extension String: CompiledTableKey {
    var tableHash: UInt64 { CompiledTable<String>.hash(self, seed: 0) }
}

/// ``AttributePath/tableHash`` is stored, computed when the path is made.
extension AttributePath: CompiledTableKey {}

extension EntityRoot {
    /// Distinguishes `principal.x` from `resource.x` in ``AttributePath/tableHash``.
    var tableSeed: UInt8 {
        switch self {
        case .principal: 1
        case .resource: 2
        case .request: 3
        case .risk: 4
        }
    }
}

extension Value: CompiledTableKey {
    var tableHash: UInt64 {
        switch self {
        case .string(let text): CompiledTable<Value>.hash(text, seed: 0)
        case .int(let number): UInt64(bitPattern: number) &* 0x9e37_79b9_7f4a_7c15 ^ 1
        case .duration(let seconds): UInt64(bitPattern: seconds) &* 0x9e37_79b9_7f4a_7c15 ^ 2
        case .bool(let flag): flag ? 3 : 4
        case .ip, .set, .cidr, .list: UInt64(bitPattern: Int64(hashValue))
        }
    }
}
