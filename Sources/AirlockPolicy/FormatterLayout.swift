/// The formatter's working state: the output lines of one file, each tied to the source token it starts
/// at so that comments can be attached by position. See ``Formatter`` for the layout.
struct FormatLayout {
    /// One output line before rendering, with the comments attached to it.
    struct Line {
        /// Spaces before the text (and before the leading comments).
        var indent: Int
        /// The code on the line.
        var text: String
        /// The index of the source token the line starts at.
        var startToken: Int
        /// Comments on their own lines before this one.
        var leading: [Comment] = []
        /// Comments at the end of the source lines this line's code came from.
        var trailing: [Comment] = []

        /// The comment printed after the code: the last end-of-line comment, unless an own-line one follows it.
        var endComment: Comment? {
            guard let last = trailing.last else { return nil }
            if let own = leading.last, last.location < own.location { return nil }
            return last
        }

        /// The comments printed on their own lines above the code, in source order.
        var commentsAbove: [Comment] {
            let all = (leading + trailing).sorted { $0.location < $1.location }
            return endComment == nil ? all : Array(all.dropLast())
        }
    }

    /// A rule header, a clause or a declaration: one line, or an `and`/`or` chain of lines that may be joined.
    struct Segment {
        /// The lines, one per chain operand for a chain.
        var lines: [Line]
        /// For a chain that fits on one line: that line's text. Nil when the lines must stay as they are.
        var joined: String?
    }

    /// A rule or a declaration.
    struct Item {
        /// Whether this is a rule (rules are always set apart by blank lines).
        var isRule: Bool
        /// The header (or the declaration) first, then the clauses.
        var segments: [Segment]
    }

    /// Where a line is: item, segment and line index.
    struct Address: Hashable {
        var item: Int
        var segment: Int
        var line: Int
    }

    /// The source tokens, ending with the end-of-file token.
    let tokens: [Token]
    /// The items in source order.
    var items: [Item] = []
    /// The comments after the last token.
    var trailer: [Comment] = []
    private let tokenIndex: [SourceLocation: Int]

    init(file: PolicyFile, tokens: [Token]) {
        self.tokens = tokens
        var index: [SourceLocation: Int] = [:]
        for (position, token) in tokens.enumerated() where index[token.location] == nil {
            index[token.location] = position
        }
        self.tokenIndex = index
        items = file.items.map { item in
            switch item {
            case .rule(let rule): Item(isRule: true, segments: ruleSegments(rule))
            case .declaration(let declaration):
                Item(isRule: false, segments: [Segment(lines: [Line(
                    indent: 0, text: "attribute \(declaration.path): \(declaration.type)",
                    startToken: token(at: declaration.location))], joined: nil)])
            }
        }
    }

    /// The index of the token at `location` (every AST location is a token's).
    private func token(at location: SourceLocation) -> Int {
        tokenIndex[location] ?? tokens.firstIndex { $0.location >= location } ?? max(0, tokens.count - 1)
    }

    private func ruleSegments(_ rule: Rule) -> [Segment] {
        var header = Line(indent: 0, text: "\(rule.effect.rawValue) \(Self.quoted(rule.id))", startToken: token(at: rule.location))
        if rule.clauses.isEmpty { header.text += ";" }
        var segments = [Segment(lines: [header], joined: nil)]
        for (position, clause) in rule.clauses.enumerated() {
            let suffix = position == rule.clauses.count - 1 ? ";" : ""
            let start = token(at: clause.location)
            let text: String
            switch clause.kind {
            case .when(let expression):
                segments.append(conditionSegment("when", expression, start: start, suffix: suffix))
                continue
            case .unless(let expression):
                segments.append(conditionSegment("unless", expression, start: start, suffix: suffix))
                continue
            case .ttl(let seconds):
                text = "ttl <= \(DurationText.format(seconds))"
            case .approvers(let requirements):
                text = "approvers " + requirements.map { requirement in
                    let approvers = switch requirement.approvers {
                    case .group(let group): "group(\(Self.quoted(group))) count \(requirement.count)"
                    case .groupNamedBy(let path, _): "group(\(path)) count \(requirement.count)"
                    case .userNamedBy(let path, _): "user(\(path))"
                    }
                    return approvers + (requirement.includesServices ? " including services" : "")
                }.joined(separator: ", ")
            case .notify(let channels):
                text = "notify " + channels.map(Self.quoted).joined(separator: ", ")
            }
            segments.append(Segment(lines: [Line(indent: 2, text: text + suffix, startToken: start)], joined: nil))
        }
        return segments
    }

    /// A `when`/`unless` clause: one line per operand when the condition is an `and` or `or` chain.
    private func conditionSegment(_ keyword: String, _ expression: Expression, start: Int, suffix: String) -> Segment {
        let whole = "\(keyword) \(Self.render(expression))\(suffix)"
        let connective: String
        let operands: [Expression]
        switch expression.kind {
        case .and(let chain):
            (connective, operands) = ("and", chain)
        case .or(let chain):
            (connective, operands) = ("or", chain)
        default:
            return Segment(lines: [Line(indent: 2, text: whole, startToken: start)], joined: nil)
        }
        var lines = [Line(indent: 2, text: "\(keyword) \(Self.operand(operands[0], of: connective))", startToken: start)]
        for operand in operands.dropFirst() {
            guard let operandStart = connectiveToken(before: operand, connective) else {
                return Segment(lines: [Line(indent: 2, text: whole, startToken: start)], joined: nil)
            }
            lines.append(Line(indent: 2 + keyword.count - connective.count,
                text: "\(connective) \(Self.operand(operand, of: connective))", startToken: operandStart))
        }
        lines[lines.count - 1].text += suffix
        let fits = 2 + whole.count <= Formatter.maximumLineWidth
        return Segment(lines: lines, joined: fits ? whole : nil)
    }

    /// The `and`/`or` token joining `operand` to the operand before it, skipping the operand's opening parentheses.
    private func connectiveToken(before operand: Expression, _ connective: String) -> Int? {
        guard var index = tokenIndex[operand.location] else { return nil }
        while index > 0, tokens[index - 1].is(.leftParenthesis) { index -= 1 }
        guard index > 0, tokens[index - 1].is(connective) else { return nil }
        return index - 1
    }

    /// An operand of an `and`/`or` chain, parenthesised as it is inside the whole chain.
    static func operand(_ operand: Expression, of connective: String) -> String {
        render(operand, context: connective == "and" ? .not : .and)
    }

    /// A string literal with `"`, `\` and newlines escaped.
    static func quoted(_ text: String) -> String { Value.string(text).description }

    /// Joins each chain that fits on one line, unless a comment belongs inside it: a comment above an operand
    /// line but the first, or a comment at the end of an operand line but the last.
    mutating func collapseChains() {
        for itemIndex in items.indices {
            for segmentIndex in items[itemIndex].segments.indices {
                let segment = items[itemIndex].segments[segmentIndex]
                guard let joined = segment.joined, segment.lines.count > 1 else { continue }
                let lines = segment.lines
                let commentInside = lines.dropFirst().contains { !$0.commentsAbove.isEmpty }
                    || lines.dropLast().contains { $0.endComment != nil }
                guard !commentInside else { continue }
                items[itemIndex].segments[segmentIndex] = Segment(lines: [Line(
                    indent: 2, text: joined, startToken: lines[0].startToken,
                    leading: lines[0].commentsAbove, trailing: lines[lines.count - 1].trailing)], joined: nil)
            }
        }
    }
}
