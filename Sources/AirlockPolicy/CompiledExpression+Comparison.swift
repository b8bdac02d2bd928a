extension ExpressionCompiler {
    /// Compiles a comparison. An attribute compared with a constant gets a fast path (literal lists
    /// prepared once as hash sets or parsed networks); whenever a value is not of the shape the fast
    /// path expects, the reference ``Evaluator/compare(_:_:_:)`` decides, so results and errors are the same.
    mutating func comparison(
        _ op: ComparisonOperator, _ left: Expression, _ right: Expression,
        operatorLocation: SourceLocation, whole: Expression
    ) -> CompiledPredicate {
        let leftOperand = value(left)
        let rightOperand = value(right)
        let description = whole.description
        let mismatch: @Sendable (Value, Value) -> EvaluationError = { leftValue, rightValue in
            EvaluationError(
                message: "`\(op.rawValue)` cannot compare \(leftValue.typeName) with \(rightValue.typeName) in `\(description)`",
                location: operatorLocation)
        }
        switch (leftOperand.form, rightOperand.form) {
        case (.slot(let slot, let absent), .constant(let constant)):
            let fast = Self.fastPath(op, constantOnRight: constant)
            return { frame throws(EvaluationError) in
                guard let value = frame.values[slot] else { throw absent }
                if let result = fast(value) { return result }
                guard let result = Evaluator.compare(op, value, constant) else { throw mismatch(value, constant) }
                return result
            }
        case (.constant(let constant), .slot(let slot, let absent)):
            let fast = Self.fastPath(op, constantOnLeft: constant)
            return { frame throws(EvaluationError) in
                guard let value = frame.values[slot] else { throw absent }
                if let result = fast(value) { return result }
                guard let result = Evaluator.compare(op, constant, value) else { throw mismatch(constant, value) }
                return result
            }
        default:
            let leftCode = leftOperand.code
            let rightCode = rightOperand.code
            return { frame throws(EvaluationError) in
                let leftValue = try leftCode(frame)
                let rightValue = try rightCode(frame)
                guard let result = Evaluator.compare(op, leftValue, rightValue) else { throw mismatch(leftValue, rightValue) }
                return result
            }
        }
    }

    /// A shortcut for `attribute OP constant`: the result, or nil to defer to the reference comparison.
    private typealias FastPath = @Sendable (Value) -> Bool?

    private static func fastPath(_ op: ComparisonOperator, constantOnRight constant: Value) -> FastPath {
        switch op {
        case .in:
            return membership(in: constant)
        case .contains:
            guard case .string(let element) = constant else { return { _ in nil } }
            return { value in
                guard case .set(let set) = value else { return nil }
                return set.contains(element)
            }
        case .containsAny, .containsAll:
            guard let wanted = strings(of: constant) else { return { _ in nil } }
            let isAny = op == .containsAny
            return { value in
                guard case .set(let set) = value else { return nil }
                return isAny ? wanted.contains(where: set.contains) : wanted.allSatisfy(set.contains)
            }
        default:
            // Scalar comparisons are a switch on two values already; the reference is the fast path.
            return { _ in nil }
        }
    }

    private static func fastPath(_ op: ComparisonOperator, constantOnLeft constant: Value) -> FastPath {
        switch op {
        case .in:
            guard case .string(let element) = constant else { return { _ in nil } }
            return { value in
                guard case .set(let set) = value else { return nil }
                return set.contains(element)
            }
        case .containsAny, .containsAll:
            guard let listed = strings(of: constant).map(Set.init) else { return { _ in nil } }
            let isAny = op == .containsAny
            return { value in
                guard case .set(let set) = value else { return nil }
                return isAny ? !set.isDisjoint(with: listed) : set.isSubset(of: listed)
            }
        default:
            return { _ in nil }
        }
    }

    /// `value in constant`, with the constant list or network prepared once.
    private static func membership(in constant: Value) -> FastPath {
        switch constant {
        case .cidr(let network):
            return { value in
                guard case .ip(let address) = value else { return nil }
                return network.contains(address)
            }
        case .list(let elements) where elements.isEmpty:
            return { _ in false }
        case .list(let elements):
            if let texts = strings(of: constant) {
                let set = Set(texts)
                return { value in
                    guard case .string(let text) = value else { return nil }
                    return set.contains(text)
                }
            }
            let networks = elements.compactMap { element -> CIDR? in
                if case .cidr(let network) = element { return network }
                return nil
            }
            if networks.count == elements.count {
                return { value in
                    guard case .ip(let address) = value else { return nil }
                    return networks.contains { $0.contains(address) }
                }
            }
            let first = elements[0]
            guard elements.allSatisfy({ Evaluator.equals($0, first) != nil }) else { return { _ in nil } }
            let set = Set(elements)
            return { value in
                guard Evaluator.equals(value, first) != nil else { return nil }
                return set.contains(value)
            }
        default:
            return { _ in nil }
        }
    }

    /// The elements of a list of strings; nil for anything else.
    private static func strings(of constant: Value) -> [String]? {
        guard case .list(let elements) = constant else { return nil }
        var texts: [String] = []
        for element in elements {
            guard case .string(let text) = element else { return nil }
            texts.append(text)
        }
        return texts
    }
}
