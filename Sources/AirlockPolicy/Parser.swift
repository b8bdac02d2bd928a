/// The second stage: a recursive-descent parser from tokens to a ``PolicyFile`` AST.
///
/// On an error the parser records a diagnostic, skips to the end of the rule (`;`) or to the next
/// `permit`/`forbid`/`require_approval`/`attribute`, and goes on, so one run reports every syntax
/// error of a file. Nesting (parentheses, `not`, lists) deeper than ``maximumNestingDepth`` is an error.
public struct Parser {
    /// The deepest nesting of parentheses, `not` and lists accepted in one expression.
    public static let maximumNestingDepth = 128

    /// The AST and the lexical and syntax diagnostics of one file.
    public struct Output: Sendable {
        /// The items that parsed; rules with syntax errors are left out.
        public var file: PolicyFile
        /// The lexical and syntax problems, in source order.
        public var diagnostics: [Diagnostic]
    }

    /// A syntax error unwinding to the item being parsed; `diagnostic` is nil when the lexer already reported it.
    struct Failure: Error {
        var diagnostic: Diagnostic?
    }

    static let effectWords = Effect.allCases.map(\.rawValue)
    static let itemWords = effectWords + ["attribute"]
    static let clauseWords = ["when", "unless", "ttl", "approvers", "notify"]

    let source: SourceFile
    let tokens: [Token]
    var index = 0
    var depth = 0
    var diagnostics: [Diagnostic] = []

    private init(source: SourceFile, tokens: [Token]) {
        self.source = source
        self.tokens = tokens
    }

    /// Lexes and parses `source`.
    public static func parse(_ source: SourceFile) -> Output {
        let lexed = Lexer.tokenize(source)
        var parser = Parser(source: source, tokens: lexed.tokens)
        parser.diagnostics = lexed.diagnostics
        let items = parser.parseItems()
        let file = PolicyFile(source: source, items: items, comments: lexed.comments)
        return Output(file: file, diagnostics: parser.diagnostics.sorted())
    }

    // MARK: Token access

    var current: Token { tokens[min(index, tokens.count - 1)] }

    func peek(_ offset: Int = 1) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    var atEnd: Bool { current.kind == .end }

    @discardableResult
    mutating func advance() -> Token {
        let token = current
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    func failure(_ message: String, at location: SourceLocation) -> Failure {
        Failure(diagnostic: Diagnostic(message, at: location, in: source))
    }

    /// A failure for an unexpected token; silent for ``Token/Kind/invalid`` (already reported).
    func unexpected(_ expectation: String, suggestions: [String] = []) -> Failure {
        if current.kind == .invalid { return Failure(diagnostic: nil) }
        var message = "expected \(expectation), found \(Self.describe(current))"
        if let word = current.word { message += Suggestion.didYouMean(word, among: suggestions) }
        return failure(message, at: current.location)
    }

    static func describe(_ token: Token) -> String {
        token.kind == .end ? "end of file" : "`\(token.text)`"
    }

    mutating func expect(_ symbol: Symbol, _ context: String = "") throws(Failure) {
        guard current.is(symbol) else { throw unexpected("`\(symbol.rawValue)`" + context) }
        advance()
    }

    mutating func expectWord(_ expectation: String) throws(Failure) -> Token {
        guard current.word != nil else { throw unexpected(expectation) }
        return advance()
    }

    /// A string token that must not contain `\*` (only `like` patterns may).
    mutating func expectPlainString(_ expectation: String) throws(Failure) -> (String, SourceLocation) {
        guard case .string(let literal) = current.kind else { throw unexpected(expectation) }
        reportEscapedStars(literal)
        let location = advance().location
        return (literal.value, location)
    }

    mutating func reportEscapedStars(_ literal: StringLiteral) {
        for location in literal.escapedStars {
            diagnostics.append(Diagnostic(
                "escape `\\*` is only allowed in the pattern of `like`; write `*`", at: location, in: source))
        }
    }

    // MARK: Items

    private mutating func parseItems() -> [PolicyFile.Item] {
        var items: [PolicyFile.Item] = []
        while !atEnd {
            let start = index
            do throws(Failure) {
                items.append(try parseItem())
            } catch {
                if let diagnostic = error.diagnostic { diagnostics.append(diagnostic) }
                synchronize(from: start)
            }
        }
        return items
    }

    /// Skips to just after the next `;`, or to the next item keyword, always making progress.
    private mutating func synchronize(from start: Int) {
        if index == start { advance() }
        while !atEnd {
            if current.is(.semicolon) {
                advance()
                return
            }
            if let word = current.word, Self.itemWords.contains(word), index > 0, !tokens[index - 1].is(.dot) {
                return
            }
            advance()
        }
    }

    private mutating func parseItem() throws(Failure) -> PolicyFile.Item {
        guard let word = current.word else {
            throw unexpected("a rule (`permit`, `forbid`, `require_approval`) or an `attribute` declaration")
        }
        if word == "attribute" { return .declaration(try parseDeclaration()) }
        guard let effect = Effect(rawValue: word) else {
            throw unexpected("a rule (`permit`, `forbid`, `require_approval`) or an `attribute` declaration",
                suggestions: Self.itemWords)
        }
        return .rule(try parseRule(effect))
    }

    private mutating func parseRule(_ effect: Effect) throws(Failure) -> Rule {
        let location = advance().location
        let (id, idLocation) = try expectPlainString("a rule id string after `\(effect.rawValue)`")
        var clauses: [Clause] = []
        while !current.is(.semicolon) {
            clauses.append(try parseClause(ruleID: id))
        }
        advance()
        return Rule(effect: effect, id: id, location: location, idLocation: idLocation, clauses: clauses)
    }

    private mutating func parseClause(ruleID: String) throws(Failure) -> Clause {
        let keyword = current
        switch keyword.word {
        case "when"?:
            advance()
            return Clause(.when(try parseExpression()), at: keyword.location)
        case "unless"?:
            advance()
            return Clause(.unless(try parseExpression()), at: keyword.location)
        case "ttl"?:
            advance()
            try expect(.lessOrEqual, " after `ttl`")
            guard case .duration(let seconds) = current.kind else {
                throw unexpected("a duration such as `30m` after `ttl <=`")
            }
            advance()
            return Clause(.ttl(seconds: seconds), at: keyword.location)
        case "approvers"?:
            advance()
            var requirements = [try parseRequirement()]
            while current.is(.comma) {
                advance()
                requirements.append(try parseRequirement())
            }
            return Clause(.approvers(requirements), at: keyword.location)
        case "notify"?:
            advance()
            var channels = [try expectPlainString("a channel string after `notify`").0]
            while current.is(.comma) {
                advance()
                channels.append(try expectPlainString("a channel string after `,`").0)
            }
            return Clause(.notify(channels), at: keyword.location)
        case let word? where Self.itemWords.contains(word):
            throw failure("expected `;` at the end of rule `\(ruleID)` before `\(word)`", at: keyword.location)
        default:
            throw unexpected("`when`, `unless`, `ttl`, `approvers`, `notify` or `;`", suggestions: Self.clauseWords)
        }
    }

    /// `group("A") [count N]`, `group(ATTR) [count N]` or `user(ATTR)`, each optionally followed by
    /// `including services`.
    private mutating func parseRequirement() throws(Failure) -> ApprovalRequirement {
        guard current.is("group") || current.is("user") else {
            throw unexpected("`group(...)` or `user(...)`", suggestions: ["group", "user"])
        }
        let keyword = advance()
        let location = keyword.location
        try expect(.leftParenthesis, " after `\(keyword.text)`")
        let approvers: ApprovalRequirement.Approvers
        var count: Int64 = 1
        if keyword.text == "user" {
            if case .string = current.kind {
                throw failure("`user(...)` takes an attribute naming the approver, such as `user(principal.manager)`, "
                    + "not a literal; for fixed approvers use `group(\"...\")`", at: current.location)
            }
            let (path, pathLocation) = try parseApproverAttribute(
                "a String attribute naming the approver, such as `principal.manager`, in `user(...)`")
            try expect(.rightParenthesis, " after `\(path)`")
            approvers = .userNamedBy(path, location: pathLocation)
            if current.is("count") {
                throw failure("`user(...)` is always one approver; remove `count`", at: current.location)
            }
        } else {
            if case .string = current.kind {
                let (group, _) = try expectPlainString("a group name string")
                try expect(.rightParenthesis, " after the group name")
                approvers = .group(group)
            } else {
                let (path, pathLocation) = try parseApproverAttribute(
                    "a group name string or a String attribute such as `resource.owner` in `group(...)`")
                try expect(.rightParenthesis, " after `\(path)`")
                approvers = .groupNamedBy(path, location: pathLocation)
            }
            if current.is("count") {
                advance()
                guard case .integer(let value) = current.kind else { throw unexpected("an integer after `count`") }
                count = value
                advance()
            }
            guard count >= 1, count <= Int64(Int32.max) else {
                throw failure("`count \(count)` must be at least 1", at: location)
            }
        }
        var includesServices = false
        if current.is("including") {
            advance()
            guard current.is("services") else {
                throw unexpected("`services` after `including`", suggestions: ["services"])
            }
            advance()
            includesServices = true
        }
        return ApprovalRequirement(approvers, count: Int(count), includesServices: includesServices, location: location)
    }

    /// The attribute inside `group(...)` or `user(...)`: `ROOT.NAME`, or an unknown entity with a suggestion.
    private mutating func parseApproverAttribute(_ expectation: String) throws(Failure) -> (AttributePath, SourceLocation) {
        guard let word = current.word, EntityRoot(rawValue: word) != nil || peek().is(.dot) else {
            throw unexpected(expectation)
        }
        return try parseAttributePath()
    }

    private mutating func parseDeclaration() throws(Failure) -> AttributeDeclaration {
        let location = advance().location
        let (path, pathLocation) = try parseAttributePath()
        try expect(.colon, " after `\(path)`")
        let valueType = try parseType()
        var optional = false
        if current.is(.question) {
            advance()
            optional = true
        }
        if current.is(.semicolon) { advance() }
        return AttributeDeclaration(
            path: path, type: AttributeType(valueType, optional: optional), location: location, pathLocation: pathLocation)
    }

    private mutating func parseType() throws(Failure) -> ValueType {
        let names = ValueType.allCases.map(\.rawValue)
        guard let word = current.word else { throw unexpected("a type (\(names.joined(separator: ", ")))") }
        if word == "Set" {
            advance()
            try expect(.less, " after `Set` (only `Set<String>` exists)")
            guard current.is("String") else { throw unexpected("`String` (only `Set<String>` exists)") }
            advance()
            try expect(.greater, " to close `Set<String`")
            return .stringSet
        }
        guard let type = ValueType(rawValue: word) else {
            throw failure("unknown type `\(word)`; use one of \(names.map { "`\($0)`" }.joined(separator: ", "))"
                + Suggestion.didYouMean(word, among: names), at: current.location)
        }
        advance()
        return type
    }

    /// `ROOT.NAME`, for declarations and attribute reads.
    mutating func parseAttributePath() throws(Failure) -> (AttributePath, SourceLocation) {
        let rootToken = try expectWord("an attribute such as `principal.department`")
        guard let root = EntityRoot(rawValue: rootToken.text) else {
            throw failure(Self.unknownEntityMessage(rootToken.text), at: rootToken.location)
        }
        try expect(.dot, " after `\(root.rawValue)`")
        let name = try expectWord("an attribute name after `\(root.rawValue).`")
        if current.is(.dot) {
            throw failure("attributes have one level: `\(root.rawValue).\(name.text)` has no attributes",
                at: current.location)
        }
        return (AttributePath(root, name.text), rootToken.location)
    }

    static func unknownEntityMessage(_ word: String) -> String {
        let roots = EntityRoot.allCases.map(\.rawValue)
        return "unknown entity `\(word)`; expected `principal`, `resource`, `request` or `risk`"
            + Suggestion.didYouMean(word, among: roots)
    }
}
