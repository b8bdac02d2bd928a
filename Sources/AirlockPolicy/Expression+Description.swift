extension Expression: CustomStringConvertible {
    /// The expression in policy syntax, with parentheses only where precedence needs them.
    public var description: String { render(context: .or) }

    private enum Precedence: Int, Comparable {
        case or, and, not, comparison, operand

        static func < (lhs: Precedence, rhs: Precedence) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private var precedence: Precedence {
        switch kind {
        case .or: .or
        case .and: .and
        case .not: .not
        case .comparison, .like, .has: .comparison
        case .literal, .list, .attribute: .operand
        }
    }

    private func render(context: Precedence) -> String {
        let text: String
        switch kind {
        case .literal(let literal): text = literal.value.description
        case .attribute(let path): text = path.description
        case .has(let path): text = "\(path.root.rawValue) has \(path.name)"
        case .list(let elements): text = "[" + elements.map { $0.render(context: .or) }.joined(separator: ", ") + "]"
        case .not(let operand): text = "not " + operand.render(context: .not)
        case .and(let operands): text = operands.map { $0.render(context: .not) }.joined(separator: " and ")
        case .or(let operands): text = operands.map { $0.render(context: .and) }.joined(separator: " or ")
        case .comparison(let op, let left, let right, _):
            text = "\(left.render(context: .operand)) \(op.rawValue) \(right.render(context: .operand))"
        case .like(let left, let pattern, _):
            text = "\(left.render(context: .operand)) like \"\(pattern)\""
        }
        return precedence < context ? "(\(text))" : text
    }
}
