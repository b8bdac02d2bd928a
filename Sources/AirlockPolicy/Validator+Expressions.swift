/// The static type of an expression, as the validator sees it.
indirect enum StaticType: Hashable, CustomStringConvertible {
    case value(ValueType)
    case cidr
    /// A list literal; `nil` element type for `[]`.
    case list(StaticType?)

    static let bool = StaticType.value(.bool)
    static let string = StaticType.value(.string)

    var description: String {
        switch self {
        case .value(let type): type.rawValue
        case .cidr: "CIDR"
        case .list(let element?): "a list of \(element)"
        case .list(nil): "an empty list"
        }
    }

    /// Whether `==` and `!=` accept two values of this type.
    var isEquatable: Bool {
        switch self {
        case .value(let type): type != .stringSet
        default: false
        }
    }

    /// The element type when used as a collection on the right of `in` or `contains_*`; `nil` for `[]`.
    var elementType: StaticType?? {
        switch self {
        case .value(.stringSet): .some(.string)
        case .list(let element): .some(element)
        default: nil
        }
    }
}

extension Validator {
    /// Type-checks `expression` with the attributes in `guards` known to be present.
    /// Returns nil after reporting an error, so that one mistake is reported once.
    mutating func check(_ expression: Expression, guards: Set<AttributePath>) -> StaticType? {
        switch expression.kind {
        case .literal(let literal):
            switch literal {
            case .string: return .string
            case .int: return .value(.int)
            case .bool: return .bool
            case .duration: return .value(.duration)
            case .ip: return .value(.ip)
            case .cidr: return .cidr
            }
        case .attribute(let path):
            guard let type = lookUp(path, at: expression.location) else { return nil }
            if type.isOptional, !guards.contains(path) {
                report("`\(path)` is optional and may be absent; test `\(path.root.rawValue) has \(path.name)` first, "
                    + "as in `\(path.root.rawValue) has \(path.name) and \(path) ...`", at: expression.location)
                return nil
            }
            return .value(type.valueType)
        case .has(let path):
            return lookUp(path, at: expression.location) == nil ? nil : .bool
        case .not(let operand):
            return requireBool(operand, guards: guards, context: "`not`")
        case .and(let operands), .or(let operands):
            let isAnd = if case .and = expression.kind { true } else { false }
            var known = guards
            var ok = true
            for operand in operands {
                if requireBool(operand, guards: known, context: isAnd ? "`and`" : "`or`") == nil { ok = false }
                known.formUnion(Self.facts(operand, whenTrue: isAnd))
            }
            return ok ? .bool : nil
        case .list(let elements):
            return checkList(elements, guards: guards, at: expression.location)
        case .comparison(let op, let left, let right, let operatorLocation):
            let leftType = check(left, guards: guards)
            let rightType = check(right, guards: guards)
            guard let leftType, let rightType else { return nil }
            return checkComparison(op, left, leftType, right, rightType, at: operatorLocation)
        case .like(let left, _, let operatorLocation):
            guard let type = check(left, guards: guards) else { return nil }
            guard type == .string else {
                report("`like` matches strings, but `\(left)` is \(type)", at: operatorLocation)
                return nil
            }
            return .bool
        }
    }

    mutating func lookUp(_ path: AttributePath, at location: SourceLocation) -> AttributeType? {
        if let type = schema[path] { return type }
        let hint = schema.suggestion(for: path).map { "; did you mean `\($0)`?" } ?? ""
        report("unknown attribute `\(path)`\(hint)", at: location)
        return nil
    }

    private mutating func requireBool(_ operand: Expression, guards: Set<AttributePath>, context: String) -> StaticType? {
        guard let type = check(operand, guards: guards) else { return nil }
        guard type == .bool else {
            report("\(context) needs a condition that is true or false; `\(operand)` is \(type)", at: operand.location)
            return nil
        }
        return .bool
    }

    private mutating func checkList(_ elements: [Expression], guards: Set<AttributePath>, at location: SourceLocation) -> StaticType? {
        var elementType: StaticType?
        var ok = true
        for element in elements {
            guard let type = check(element, guards: guards) else {
                ok = false
                continue
            }
            if case .list = type {
                report("lists cannot contain lists", at: element.location)
                ok = false
            } else if type == .value(.stringSet) {
                report("lists cannot contain sets", at: element.location)
                ok = false
            } else if let expected = elementType, expected != type {
                report("list elements must all have one type: `\(element)` is \(type), the first element is \(expected)",
                    at: element.location)
                ok = false
            } else {
                elementType = type
            }
        }
        return ok ? .list(elementType) : nil
    }

    private mutating func checkComparison(
        _ op: ComparisonOperator, _ left: Expression, _ leftType: StaticType,
        _ right: Expression, _ rightType: StaticType, at location: SourceLocation
    ) -> StaticType? {
        let accepted: Bool
        switch op {
        case .equal, .notEqual:
            accepted = leftType == rightType && leftType.isEquatable
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            accepted = leftType == rightType && (leftType == .value(.int) || leftType == .value(.duration))
        case .in:
            if leftType == .value(.ip), rightType == .cidr || rightType == .list(.cidr) {
                accepted = true
            } else if let element = rightType.elementType {
                accepted = leftType.isEquatable && (element == nil || element == leftType)
            } else {
                accepted = false
            }
        case .contains:
            if let element = leftType.elementType {
                accepted = rightType.isEquatable && (element == nil || element == rightType)
            } else {
                accepted = leftType == .cidr && rightType == .value(.ip)
            }
        case .containsAny, .containsAll:
            if let leftElement = leftType.elementType, let rightElement = rightType.elementType {
                accepted = leftElement == nil || rightElement == nil || leftElement == rightElement
            } else {
                accepted = false
            }
        }
        if accepted { return .bool }
        report(Self.mismatchMessage(op, left, leftType, right, rightType), at: location)
        return nil
    }

    private static func mismatchMessage(
        _ op: ComparisonOperator, _ left: Expression, _ leftType: StaticType, _ right: Expression, _ rightType: StaticType
    ) -> String {
        let operands = "`\(left)` is \(leftType) and `\(right)` is \(rightType)"
        switch op {
        case .equal, .notEqual:
            if leftType == rightType {
                return "`\(op.rawValue)` cannot compare values of type \(leftType); use `contains_all` or `in` for sets and lists"
            }
            return "cannot compare with `\(op.rawValue)`: \(operands)"
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            return "`\(op.rawValue)` compares two Int or two Duration values: \(operands)"
        case .in:
            return "`in` needs an element and a list or set of that type, or an IP and a CIDR: \(operands)"
        case .contains:
            return "`contains` needs a set or list and an element of that type: \(operands)"
        case .containsAny, .containsAll:
            return "`\(op.rawValue)` needs two sets or lists with elements of one type: \(operands)"
        }
    }
}
