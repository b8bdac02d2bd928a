/// A compiled condition: reads attribute slots, returns whether it holds, and fails exactly where and
/// how ``Evaluator/evaluateCondition(_:input:)`` fails.
typealias CompiledPredicate = @Sendable (CompiledFrame) throws(EvaluationError) -> Bool

/// A compiled expression producing a value, failing exactly as ``Evaluator/evaluate(_:input:)`` does.
typealias CompiledValueCode = @Sendable (CompiledFrame) throws(EvaluationError) -> Value

/// A compiled condition and, when it does not read the input, its folded result.
struct CompiledCondition: Sendable {
    /// The folded result of an expression that reads no attribute; nil when it depends on the input.
    var constant: Result<Bool, EvaluationError>?
    /// The code; for a constant it returns (or throws) the constant.
    var code: CompiledPredicate

    init(constant: Result<Bool, EvaluationError>) {
        self.constant = constant
        self.code = { _ throws(EvaluationError) in try constant.get() }
    }

    init(_ code: @escaping CompiledPredicate) {
        self.constant = nil
        self.code = code
    }
}

/// A compiled operand, with its shape kept so comparisons can specialise on it.
struct CompiledOperand: Sendable {
    /// What the operand is.
    enum Form: Sendable {
        /// A value that reads no attribute, folded at compile time.
        case constant(Value)
        /// An expression that reads no attribute and always fails with this error.
        case failure(EvaluationError)
        /// A plain attribute read: the slot and the error when the attribute is absent.
        case slot(Int, absent: EvaluationError)
        /// Anything else.
        case code
    }

    var form: Form
    var code: CompiledValueCode
}

/// Compiles validated expressions into closures over attribute slots, folding constants with the
/// reference evaluator so that folded results and errors are the reference's by construction.
struct ExpressionCompiler {
    var layout: CompiledLayout
    private let reference = Evaluator(rules: [])
    private let emptyInput = EvaluationInput()

    init(layout: CompiledLayout) {
        self.layout = layout
    }

    /// Whether `expression` reads an attribute or tests one with `has`.
    static func readsInput(_ expression: Expression) -> Bool {
        switch expression.kind {
        case .literal: false
        case .attribute, .has: true
        case .not(let operand): readsInput(operand)
        case .list(let operands), .and(let operands), .or(let operands): operands.contains(where: readsInput)
        case .comparison(_, let left, let right, _): readsInput(left) || readsInput(right)
        case .like(let left, _, _): readsInput(left)
        }
    }

    /// Compiles an expression used as a condition (it must produce a Bool).
    mutating func condition(_ expression: Expression) -> CompiledCondition {
        guard Self.readsInput(expression) else {
            do throws(EvaluationError) {
                return CompiledCondition(constant: .success(try reference.evaluateCondition(expression, input: emptyInput)))
            } catch {
                return CompiledCondition(constant: .failure(error))
            }
        }
        switch expression.kind {
        case .has(let path):
            let slot = layout.slot(for: path)
            return CompiledCondition { frame throws(EvaluationError) in frame.values[slot] != nil }
        case .not(let operand):
            let inner = condition(operand).code
            return CompiledCondition { frame throws(EvaluationError) in !(try inner(frame)) }
        case .and(let operands):
            return junction(operands, isAnd: true)
        case .or(let operands):
            return junction(operands, isAnd: false)
        case .comparison(let op, let left, let right, let operatorLocation):
            return CompiledCondition(comparison(op, left, right, operatorLocation: operatorLocation, whole: expression))
        case .like(let left, let pattern, let operatorLocation):
            return CompiledCondition(like(left, pattern, operatorLocation: operatorLocation, whole: expression))
        case .attribute, .list, .literal:
            let operand = value(expression)
            let prefix = "`\(expression)` is "
            let location = expression.location
            if case .slot(let slot, let absent) = operand.form {
                return CompiledCondition { frame throws(EvaluationError) in
                    guard let value = frame.values[slot] else { throw absent }
                    guard case .bool(let result) = value else {
                        throw EvaluationError(message: prefix + value.typeName + ", not Bool", location: location)
                    }
                    return result
                }
            }
            let code = operand.code
            return CompiledCondition { frame throws(EvaluationError) in
                let value = try code(frame)
                guard case .bool(let result) = value else {
                    throw EvaluationError(message: prefix + value.typeName + ", not Bool", location: location)
                }
                return result
            }
        }
    }

    /// Compiles an expression for its value.
    mutating func value(_ expression: Expression) -> CompiledOperand {
        guard Self.readsInput(expression) else {
            do throws(EvaluationError) {
                let value = try reference.evaluate(expression, input: emptyInput)
                return CompiledOperand(form: .constant(value), code: { _ throws(EvaluationError) in value })
            } catch {
                return CompiledOperand(form: .failure(error), code: { _ throws(EvaluationError) in throw error })
            }
        }
        switch expression.kind {
        case .attribute(let path):
            let slot = layout.slot(for: path)
            let absent = EvaluationError(message: "attribute `\(path)` is absent", location: expression.location)
            return CompiledOperand(form: .slot(slot, absent: absent)) { frame throws(EvaluationError) in
                guard let value = frame.values[slot] else { throw absent }
                return value
            }
        case .list(let elements):
            let codes = elements.map { value($0).code }
            return CompiledOperand(form: .code) { frame throws(EvaluationError) in
                var values: [Value] = []
                values.reserveCapacity(codes.count)
                for code in codes { values.append(try code(frame)) }
                return .list(values)
            }
        default:
            let code = condition(expression).code
            return CompiledOperand(form: .code) { frame throws(EvaluationError) in .bool(try code(frame)) }
        }
    }

    /// `and`/`or`: operands left to right with short-circuit; constant operands are folded away
    /// (a neutral one dropped, a deciding or failing one ends the chain).
    private mutating func junction(_ operands: [Expression], isAnd: Bool) -> CompiledCondition {
        var parts: [CompiledCondition] = []
        for operand in operands {
            let compiled = condition(operand)
            if case .success(let value)? = compiled.constant, value == isAnd { continue }
            parts.append(compiled)
            if compiled.constant != nil { break }
        }
        if parts.isEmpty { return CompiledCondition(constant: .success(isAnd)) }
        if parts.count == 1 { return parts[0] }
        let codes = parts.map(\.code)
        if isAnd {
            return CompiledCondition { frame throws(EvaluationError) in
                for code in codes where !(try code(frame)) { return false }
                return true
            }
        }
        return CompiledCondition { frame throws(EvaluationError) in
            for code in codes where try code(frame) { return true }
            return false
        }
    }

    private mutating func like(
        _ left: Expression, _ pattern: GlobPattern, operatorLocation: SourceLocation, whole: Expression
    ) -> CompiledPredicate {
        let operand = value(left)
        let glob = CompiledGlob(pattern)
        let notString = EvaluationError(message: "`like` needs a string in `\(whole)`", location: operatorLocation)
        if case .slot(let slot, let absent) = operand.form {
            return { frame throws(EvaluationError) in
                guard let value = frame.values[slot] else { throw absent }
                guard case .string(let text) = value else { throw notString }
                return glob.matches(text)
            }
        }
        let code = operand.code
        return { frame throws(EvaluationError) in
            guard case .string(let text) = try code(frame) else { throw notString }
            return glob.matches(text)
        }
    }
}
