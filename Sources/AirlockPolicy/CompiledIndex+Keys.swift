/// Finds the links of a rule's condition chain that can serve as index keys (see ``CompiledIndex``).
struct IndexKeyFinder {
    /// One value a key link accepts.
    enum KeyValue: Hashable {
        /// The attribute equals this value.
        case scalar(Value)
        /// The set attribute holds this element.
        case member(String)
    }

    /// A possible index key of a rule.
    struct Key {
        /// The key attribute.
        var path: AttributePath
        /// Whether the attribute is a Set<String> keyed by element.
        var isMember: Bool
        /// The values for which the link may hold; for any other value of the right type it is false.
        var values: Set<KeyValue>
        /// The attributes read by the links before this one.
        var prefixReads: Set<AttributePath>
    }

    let schema: Schema
    private let reference = Evaluator(rules: [])

    init(schema: Schema) {
        self.schema = schema
    }

    /// The candidate keys of `rule`, in chain order. The search stops at a link that reads nothing and
    /// fails, since a later key could then skip a rule whose evaluation errors.
    func keys(of rule: Rule) -> [Key] {
        var links: [(expression: Expression, expected: Bool)] = []
        for condition in rule.conditions {
            Self.flatten(condition.expression, expected: condition.polarity == .when, into: &links)
        }
        var reads: Set<AttributePath> = []
        var keys: [Key] = []
        for link in links {
            if let key = key(link.expression, expected: link.expected, prefixReads: reads) { keys.append(key) }
            if !ExpressionCompiler.readsInput(link.expression) {
                do throws(EvaluationError) {
                    _ = try reference.evaluateCondition(link.expression, input: EvaluationInput())
                } catch {
                    break
                }
            }
            Self.collectReads(link.expression, into: &reads)
        }
        return keys
    }

    /// Splits a link into the `and` chain it is evaluated as: `when A and B`, `unless A or B`, `not`.
    static func flatten(_ expression: Expression, expected: Bool, into links: inout [(expression: Expression, expected: Bool)]) {
        switch expression.kind {
        case .not(let operand):
            flatten(operand, expected: !expected, into: &links)
        case .and(let operands) where expected:
            for operand in operands { flatten(operand, expected: true, into: &links) }
        case .or(let operands) where !expected:
            for operand in operands { flatten(operand, expected: false, into: &links) }
        default:
            links.append((expression, expected))
        }
    }

    /// Every attribute `expression` reads (a `has` test reads nothing that can fail).
    static func collectReads(_ expression: Expression, into reads: inout Set<AttributePath>) {
        switch expression.kind {
        case .literal, .has: break
        case .attribute(let path): reads.insert(path)
        case .not(let operand), .like(let operand, _, _): collectReads(operand, into: &reads)
        case .list(let operands), .and(let operands), .or(let operands):
            for operand in operands { collectReads(operand, into: &reads) }
        case .comparison(_, let left, let right, _):
            collectReads(left, into: &reads)
            collectReads(right, into: &reads)
        }
    }

    private func key(_ expression: Expression, expected: Bool, prefixReads: Set<AttributePath>) -> Key? {
        func scalar(_ path: AttributePath, _ values: [Value]) -> Key? {
            guard let type = schema[path], values.allSatisfy({ Self.valueType(of: $0) == type.valueType }) else { return nil }
            return Key(path: path, isMember: false, values: Set(values.map(KeyValue.scalar)), prefixReads: prefixReads)
        }
        func member(_ path: AttributePath, _ elements: [String]) -> Key? {
            guard schema[path]?.valueType == .stringSet else { return nil }
            return Key(path: path, isMember: true, values: Set(elements.map(KeyValue.member)), prefixReads: prefixReads)
        }
        switch expression.kind {
        case .attribute(let path):
            return scalar(path, [.bool(expected)])
        case .comparison(let op, let left, let right, _):
            switch (op, expected, left.kind, right.kind) {
            case (.equal, true, .attribute(let path), .literal(let literal)),
                (.equal, true, .literal(let literal), .attribute(let path)),
                (.notEqual, false, .attribute(let path), .literal(let literal)),
                (.notEqual, false, .literal(let literal), .attribute(let path)):
                return scalar(path, [literal.value])
            case (.in, true, .attribute(let path), .list(let elements)):
                guard let values = Self.literals(elements) else { return nil }
                return scalar(path, values)
            case (.in, true, .literal(.string(let element)), .attribute(let path)),
                (.contains, true, .attribute(let path), .literal(.string(let element))):
                return member(path, [element])
            case (.containsAny, true, .attribute(let path), .list(let elements)),
                (.containsAny, true, .list(let elements), .attribute(let path)):
                guard let strings = Self.strings(elements) else { return nil }
                return member(path, strings)
            case (.containsAll, true, .attribute(let path), .list(let elements)):
                guard let first = Self.strings(elements)?.first else { return nil }
                return member(path, [first])
            default:
                return nil
            }
        default:
            return nil
        }
    }

    private static func literals(_ elements: [Expression]) -> [Value]? {
        var values: [Value] = []
        for element in elements {
            guard case .literal(let literal) = element.kind, valueType(of: literal.value) != nil else { return nil }
            values.append(literal.value)
        }
        return values
    }

    private static func strings(_ elements: [Expression]) -> [String]? {
        var strings: [String] = []
        for element in elements {
            guard case .literal(.string(let text)) = element.kind else { return nil }
            strings.append(text)
        }
        return strings
    }

    /// The schema type of a scalar value; nil for sets, networks and lists.
    private static func valueType(of value: Value) -> ValueType? {
        switch value {
        case .string: .string
        case .int: .int
        case .bool: .bool
        case .duration: .duration
        case .ip: .ip
        case .set, .cidr, .list: nil
        }
    }
}
