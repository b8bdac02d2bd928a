/// The attribute slots of a compiled policy set: every attribute a rule reads or tests gets a fixed
/// index, so compiled expressions read an array element instead of hashing an attribute name.
struct CompiledLayout: Sendable {
    /// One slot: the attribute and what the schema says about it (nil type: not in the schema).
    struct Slot: Sendable {
        var path: AttributePath
        var type: AttributeType?
    }

    /// The slots, in the order they were first needed; slot 0 is always `request.ttl`.
    private(set) var slots: [Slot]
    /// The slot of each path, probed with the input's attribute names.
    private var indexByPath: CompiledTable<AttributePath>
    /// The schema type of each slot, apart from ``slots`` so that classifying a value copies no path.
    private var types: ContiguousArray<AttributeType?>
    private let schema: Schema

    /// The slot of `request.ttl`, which every decision reads for the granted TTL.
    static let requestTTLSlot = 0

    init(schema: Schema) {
        self.schema = schema
        self.slots = []
        self.indexByPath = CompiledTable()
        self.types = []
        _ = slot(for: AttributePath(.request, "ttl"))
    }

    /// The slot of `path`, allocating one on first use.
    mutating func slot(for path: AttributePath) -> Int {
        let index = Int(indexByPath.intern(path))
        if index == slots.count {
            slots.append(Slot(path: path, type: schema[path]))
            types.append(schema[path])
        }
        return index
    }

    /// Reads the attributes of `input` into slots.
    ///
    /// The input's attributes are walked once and each path's stored hash is probed in the slot table (no `Hasher`,
    /// no name hashed per decision). A slot's verdict is computed when asked, from its value and schema type, so a
    /// frame allocates one array.
    func frame(for input: EvaluationInput) -> CompiledFrame {
        var values = ContiguousArray<Value?>(repeating: nil, count: types.count)
        for (path, value) in input.attributes {
            if let slot = indexByPath.value(of: path) { values[Int(slot)] = value }
        }
        return CompiledFrame(values: values, types: types)
    }

    @inline(__always)
    static func state(of value: Value?, type: AttributeType?) -> CompiledFrame.SlotState {
        guard let type else { return .unsafe }
        guard let value else { return type.isOptional ? .absentOptional : .unsafe }
        let fits =
            switch (value, type.valueType) {
            case (.string, .string), (.int, .int), (.bool, .bool), (.duration, .duration), (.ip, .ip), (.set, .stringSet): true
            default: false
            }
        return fits ? .wellTyped : .unsafe
    }
}

/// The attribute values of one decision, by slot, with a precomputed verdict on each.
struct CompiledFrame: Sendable {
    /// Whether reading a slot can fail in a validated rule.
    enum SlotState: Sendable {
        /// Present with the schema's type: reading it never fails.
        case wellTyped
        /// An optional attribute that is absent: validated rules only read it behind a `has` guard that is false.
        case absentOptional
        /// Absent though required, of the wrong type, or not in the schema: reading it may fail.
        case unsafe
    }

    /// The value of each slot, nil when absent.
    let values: ContiguousArray<Value?>
    /// The schema type of each slot (the layout's, shared).
    let types: ContiguousArray<AttributeType?>

    /// The verdict on a slot.
    @inline(__always)
    func state(_ slot: Int) -> SlotState {
        CompiledLayout.state(of: values[slot], type: types[slot])
    }

    /// Whether a validated expression reading only this slot cannot fail on it.
    @inline(__always)
    func isSafe(_ slot: Int) -> Bool {
        state(slot) != .unsafe
    }
}
