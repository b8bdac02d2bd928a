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
    private var indexByPath: [AttributePath: Int]
    private let schema: Schema

    /// The slot of `request.ttl`, which every decision reads for the granted TTL.
    static let requestTTLSlot = 0

    init(schema: Schema) {
        self.schema = schema
        self.slots = []
        self.indexByPath = [:]
        _ = slot(for: AttributePath(.request, "ttl"))
    }

    /// The slot of `path`, allocating one on first use.
    mutating func slot(for path: AttributePath) -> Int {
        if let index = indexByPath[path] { return index }
        let index = slots.count
        slots.append(Slot(path: path, type: schema[path]))
        indexByPath[path] = index
        return index
    }

    /// Reads the attributes of `input` into slots and classifies each one once.
    func frame(for input: EvaluationInput) -> CompiledFrame {
        let attributes = input.attributes
        var values = ContiguousArray<Value?>()
        var states = ContiguousArray<CompiledFrame.SlotState>()
        values.reserveCapacity(slots.count)
        states.reserveCapacity(slots.count)
        for slot in slots {
            let value = attributes[slot.path]
            values.append(value)
            states.append(Self.state(of: value, type: slot.type))
        }
        return CompiledFrame(values: values, states: states)
    }

    private static func state(of value: Value?, type: AttributeType?) -> CompiledFrame.SlotState {
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
    /// The verdict on each slot.
    let states: ContiguousArray<SlotState>

    /// Whether a validated expression reading only this slot cannot fail on it.
    @inline(__always)
    func isSafe(_ slot: Int) -> Bool {
        states[slot] != .unsafe
    }
}
