extension FormatLayout {
    /// How tightly an expression binds, loosest first.
    enum Precedence: Int, Comparable {
        case or, and, not, comparison, operand

        static func < (lhs: Precedence, rhs: Precedence) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// `expression` in policy syntax as ``Expression/description`` prints it, with one difference for readers:
    /// the operand of `not` keeps parentheses when it is a comparison, `like` or `has`
    /// (`not (request.weekday in ["sat", "sun"])`, not `not request.weekday in ["sat", "sun"]`), unless that
    /// would pass ``Parser/maximumNestingDepth``. Parentheses are not AST nodes, so the meaning is the same.
    /// `depth` counts the parentheses, `not`s and lists around the expression, as the parser does.
    static func render(_ expression: Expression, context: Precedence = .or, depth: Int = 0) -> String {
        let parenthesised = precedence(of: expression) < context
        let inner = depth + (parenthesised ? 1 : 0)
        let text: String
        switch expression.kind {
        case .literal, .attribute, .has:
            text = expression.description
        case .list(let elements):
            text = "[" + elements.map { render($0, depth: inner + 1) }.joined(separator: ", ") + "]"
        case .not(let operand):
            let readable: Precedence = if case .not = operand.kind { .not } else { .operand }
            let operandContext = inner + 1 < Parser.maximumNestingDepth ? readable : .not
            text = "not " + render(operand, context: operandContext, depth: inner + 1)
        case .and(let operands):
            text = operands.map { render($0, context: .not, depth: inner) }.joined(separator: " and ")
        case .or(let operands):
            text = operands.map { render($0, context: .and, depth: inner) }.joined(separator: " or ")
        case .comparison(let op, let left, let right, _):
            text = "\(render(left, context: .operand, depth: inner)) \(op.rawValue) \(render(right, context: .operand, depth: inner))"
        case .like(let left, let pattern, _):
            text = "\(render(left, context: .operand, depth: inner)) like \"\(pattern)\""
        }
        return parenthesised ? "(\(text))" : text
    }

    private static func precedence(of expression: Expression) -> Precedence {
        switch expression.kind {
        case .or: .or
        case .and: .and
        case .not: .not
        case .comparison, .like, .has: .comparison
        case .literal, .list, .attribute: .operand
        }
    }
}
