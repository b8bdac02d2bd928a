extension Parser {
    static let comparisonWords: [String: ComparisonOperator] = [
        "in": .in, "contains": .contains, "contains_any": .containsAny, "contains_all": .containsAll,
    ]
    static let operatorWords = ["and", "or", "not", "in", "contains", "contains_any", "contains_all", "like", "has"]
    static let operandWords = EntityRoot.allCases.map(\.rawValue) + ["true", "false", "ip", "cidr", "not"]

    /// Parses an expression: `or`, loosest.
    mutating func parseExpression() throws(Failure) -> Expression {
        let first = try parseAnd()
        guard current.is("or") else { return first }
        var operands = [first]
        while current.is("or") {
            advance()
            operands.append(try parseAnd())
        }
        return Expression(.or(operands), at: first.location)
    }

    private mutating func parseAnd() throws(Failure) -> Expression {
        let first = try parseNot()
        guard current.is("and") else { return first }
        var operands = [first]
        while current.is("and") {
            advance()
            operands.append(try parseNot())
        }
        return Expression(.and(operands), at: first.location)
    }

    private mutating func parseNot() throws(Failure) -> Expression {
        guard current.is("not") else { return try parseComparison() }
        let location = advance().location
        let operand = try nested { (parser: inout Parser) throws(Failure) in try parser.parseNot() }
        return Expression(.not(operand), at: location)
    }

    /// Runs `body` one nesting level deeper, failing beyond ``maximumNestingDepth``.
    private mutating func nested(
        _ body: (inout Parser) throws(Failure) -> Expression
    ) throws(Failure) -> Expression {
        guard depth < Self.maximumNestingDepth else {
            throw failure("expression is nested too deeply (more than \(Self.maximumNestingDepth) levels)",
                at: current.location)
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    private func comparisonOperator(_ token: Token) -> ComparisonOperator? {
        switch token.kind {
        case .symbol(let symbol): ComparisonOperator(rawValue: symbol.rawValue)
        case .word(let word): Self.comparisonWords[word]
        default: nil
        }
    }

    private mutating func parseComparison() throws(Failure) -> Expression {
        if let word = current.word, let root = EntityRoot(rawValue: word), peek().is("has") {
            let location = advance().location
            advance()
            let name = try expectWord("an attribute name after `has`")
            if current.is(.dot) {
                throw failure("write `\(root.rawValue) has \(name.text)`: `has` takes one attribute name", at: current.location)
            }
            let expression = Expression(.has(AttributePath(root, name.text)), at: location)
            try rejectChainedComparison()
            return expression
        }
        let left = try parseOperand()
        let expression: Expression
        if let op = comparisonOperator(current) {
            let operatorLocation = advance().location
            let right = try parseOperand()
            expression = Expression(.comparison(op, left, right, operatorLocation: operatorLocation), at: left.location)
        } else if current.is("like") {
            let operatorLocation = advance().location
            guard case .string(let literal) = current.kind else {
                throw unexpected("a string literal pattern after `like`")
            }
            advance()
            expression = Expression(.like(left, literal.pattern, operatorLocation: operatorLocation), at: left.location)
        } else if current.is("has") {
            throw failure("`has` needs an entity on its left, as in `principal has mfa_age`", at: current.location)
        } else {
            return left
        }
        try rejectChainedComparison()
        return expression
    }

    private func rejectChainedComparison() throws(Failure) {
        if comparisonOperator(current) != nil || current.is("like") || current.is("has") {
            throw failure("comparisons cannot be chained; combine them with `and` or group with parentheses",
                at: current.location)
        }
    }

    private mutating func parseOperand() throws(Failure) -> Expression {
        let token = current
        switch token.kind {
        case .symbol(.leftParenthesis):
            advance()
            let inner = try nested { (parser: inout Parser) throws(Failure) in try parser.parseExpression() }
            try expect(.rightParenthesis, " to close the `(` at line \(token.location.line), column \(token.location.column)")
            return inner
        case .symbol(.leftBracket):
            advance()
            return try nested { (parser: inout Parser) throws(Failure) in try parser.parseListRest(at: token.location) }
        case .string(let literal):
            reportEscapedStars(literal)
            advance()
            return Expression(.literal(.string(literal.value)), at: token.location)
        case .integer(let value):
            advance()
            return Expression(.literal(.int(value)), at: token.location)
        case .duration(let seconds):
            advance()
            return Expression(.literal(.duration(seconds)), at: token.location)
        case .word(let word):
            return try parseWordOperand(word, token)
        default:
            throw unexpected("an expression")
        }
    }

    private mutating func parseListRest(at location: SourceLocation) throws(Failure) -> Expression {
        var elements: [Expression] = []
        if !current.is(.rightBracket) {
            elements.append(try parseExpression())
            while current.is(.comma) {
                advance()
                elements.append(try parseExpression())
            }
        }
        try expect(.rightBracket, " or `,` in the list")
        return Expression(.list(elements), at: location)
    }

    private mutating func parseWordOperand(_ word: String, _ token: Token) throws(Failure) -> Expression {
        switch word {
        case "true", "false":
            advance()
            return Expression(.literal(.bool(word == "true")), at: token.location)
        case "ip" where peek().is(.leftParenthesis), "cidr" where peek().is(.leftParenthesis):
            advance()
            advance()
            let (text, textLocation) = try expectPlainString("an address string in `\(word)(...)`")
            try expect(.rightParenthesis, " after the address")
            if word == "ip" {
                guard let address = IPAddress(text) else {
                    throw failure("invalid IP address `\(text)`", at: textLocation)
                }
                return Expression(.literal(.ip(address)), at: token.location)
            }
            guard let network = CIDR(text) else {
                throw failure("invalid CIDR `\(text)`; expected an address and a prefix length such as `10.0.0.0/8`",
                    at: textLocation)
            }
            return Expression(.literal(.cidr(network)), at: token.location)
        default:
            break
        }
        if let root = EntityRoot(rawValue: word) {
            guard peek().is(.dot) else {
                advance()
                throw unexpected("`.` or `has` after `\(root.rawValue)`")
            }
            let (path, location) = try parseAttributePath()
            return Expression(.attribute(path), at: location)
        }
        if peek().is(.dot) {
            throw failure(Self.unknownEntityMessage(word), at: token.location)
        }
        if Self.operatorWords.contains(word) || Self.clauseWords.contains(word) || Self.itemWords.contains(word) {
            throw unexpected("an expression")
        }
        throw failure("unknown name `\(word)`; expected an attribute such as `principal.id`, a literal, `ip(...)` or `cidr(...)`"
            + Suggestion.didYouMean(word, among: Self.operandWords), at: token.location)
    }
}
