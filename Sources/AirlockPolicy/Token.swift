/// A lexical token of the policy language with its source position.
public struct Token: Sendable, Hashable {
    /// What kind of token this is, with its value.
    public enum Kind: Sendable, Hashable {
        /// An identifier or keyword (`permit`, `principal`, `mfa_age`); keywords are contextual.
        case word(String)
        /// A string literal, with escapes decoded.
        case string(StringLiteral)
        /// A 64-bit integer literal, possibly negative.
        case integer(Int64)
        /// A duration literal (`1h30m`), in seconds.
        case duration(Int64)
        /// Punctuation or an operator symbol.
        case symbol(Symbol)
        /// Input the lexer could not read; it has already reported a diagnostic.
        case invalid
        /// The end of the file.
        case end
    }

    /// The kind and value.
    public let kind: Kind
    /// Where the token starts.
    public let location: SourceLocation
    /// The token's text as written in the source.
    public let text: String

    /// Creates a token.
    public init(kind: Kind, location: SourceLocation, text: String) {
        self.kind = kind
        self.location = location
        self.text = text
    }

    /// The word, if this token is a word.
    var word: String? {
        if case .word(let word) = kind { return word }
        return nil
    }

    /// Whether this token is the given symbol.
    func `is`(_ symbol: Symbol) -> Bool { kind == .symbol(symbol) }

    /// Whether this token is the given word.
    func `is`(_ word: String) -> Bool { kind == .word(word) }
}

/// Punctuation and operator symbols.
public enum Symbol: String, Sendable, Hashable, CaseIterable {
    /// `(`
    case leftParenthesis = "("
    /// `)`
    case rightParenthesis = ")"
    /// `[`
    case leftBracket = "["
    /// `]`
    case rightBracket = "]"
    /// `,`
    case comma = ","
    /// `;`
    case semicolon = ";"
    /// `.`
    case dot = "."
    /// `:`
    case colon = ":"
    /// `?`
    case question = "?"
    /// `<`
    case less = "<"
    /// `<=`
    case lessOrEqual = "<="
    /// `>`
    case greater = ">"
    /// `>=`
    case greaterOrEqual = ">="
    /// `==`
    case equal = "=="
    /// `!=`
    case notEqual = "!="
}

/// A decoded string literal. `\*` decodes to `*` in ``value`` but stays a literal star in ``pattern``.
public struct StringLiteral: Sendable, Hashable {
    /// The decoded text (`\*` read as `*`).
    public let value: String
    /// The text read as a `like` pattern: unescaped `*` are wildcards, `\*` literal stars.
    public let pattern: GlobPattern
    /// Where each `\*` escape is, to report it when the literal is not a `like` pattern.
    public let escapedStars: [SourceLocation]

    /// Creates a string literal.
    public init(value: String, pattern: GlobPattern, escapedStars: [SourceLocation]) {
        self.value = value
        self.pattern = pattern
        self.escapedStars = escapedStars
    }
}

/// A `#` comment, kept for the formatter.
public struct Comment: Sendable, Hashable {
    /// Where the `#` is.
    public let location: SourceLocation
    /// The comment text including the `#`, without the line terminator.
    public let text: String

    /// Creates a comment.
    public init(location: SourceLocation, text: String) {
        self.location = location
        self.text = text
    }
}
