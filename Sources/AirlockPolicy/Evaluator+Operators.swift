extension Evaluator {
    /// Applies a comparison operator; nil when the operand types do not fit (a runtime type error).
    ///
    /// `in` accepts an element and a list or set, an IP and a CIDR, or an IP and a list mixing IPs and
    /// CIDRs (true when the IP equals one of the IPs or lies in one of the networks). An IPv4 address is
    /// never inside an IPv6 network nor equal to an IPv6 address.
    static func compare(_ op: ComparisonOperator, _ left: Value, _ right: Value) -> Bool? {
        switch op {
        case .equal, .notEqual:
            guard let equal = equals(left, right) else { return nil }
            return op == .equal ? equal : !equal
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let pair: (Int64, Int64)
            switch (left, right) {
            case let (.int(a), .int(b)), let (.duration(a), .duration(b)): pair = (a, b)
            default: return nil
            }
            switch op {
            case .less: return pair.0 < pair.1
            case .lessOrEqual: return pair.0 <= pair.1
            case .greater: return pair.0 > pair.1
            default: return pair.0 >= pair.1
            }
        case .in:
            return isMember(left, of: right)
        case .contains:
            return isMember(right, of: left)
        case .containsAny, .containsAll:
            guard elements(left) != nil, let wanted = elements(right) else { return nil }
            for element in wanted {
                guard let found = isMember(element, of: left) else { return nil }
                if found, op == .containsAny { return true }
                if !found, op == .containsAll { return false }
            }
            return op == .containsAll
        }
    }

    /// Equality of two values of one scalar type; nil for different or unordered types.
    static func equals(_ left: Value, _ right: Value) -> Bool? {
        switch (left, right) {
        case let (.string(a), .string(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case let (.duration(a), .duration(b)): a == b
        case let (.ip(a), .ip(b)): a == b
        default: nil
        }
    }

    /// Whether `element` is in `collection` (list, set, or CIDR); nil on a type mismatch.
    static func isMember(_ element: Value, of collection: Value) -> Bool? {
        switch (element, collection) {
        case let (.string(text), .set(set)):
            return set.contains(text)
        case let (.ip(address), .cidr(network)):
            return network.contains(address)
        case let (_, .list(values)):
            for value in values {
                if case .ip(let address) = element, case .cidr(let network) = value {
                    if network.contains(address) { return true }
                    continue
                }
                guard let equal = equals(element, value) else { return nil }
                if equal { return true }
            }
            return false
        default:
            return nil
        }
    }

    private static func elements(_ value: Value) -> [Value]? {
        switch value {
        case .set(let set): set.sorted().map(Value.string)
        case .list(let values): values
        default: nil
        }
    }
}
