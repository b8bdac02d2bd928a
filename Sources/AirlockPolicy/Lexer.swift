/// The first stage: turns a source file into tokens with positions, collecting comments and diagnostics.
///
/// The lexer never stops at an error: it reports it, emits a best-effort or ``Token/Kind/invalid``
/// token and goes on, so that the parser can report later problems too.
public struct Lexer {
    /// The tokens (ending with ``Token/Kind/end``), the comments and the lexical diagnostics of one file.
    public struct Output: Sendable {
        /// The tokens in order; the last one is always ``Token/Kind/end``.
        public var tokens: [Token]
        /// The `#` comments in order.
        public var comments: [Comment]
        /// Lexical problems: bad characters, escapes, numbers, durations, unterminated strings.
        public var diagnostics: [Diagnostic]
    }

    private let source: SourceFile
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var line = 1
    private var column = 1
    private var output = Output(tokens: [], comments: [], diagnostics: [])

    private init(source: SourceFile) {
        self.source = source
        // Nearly every policy is ASCII: then each byte is a scalar, and decoding UTF-8 can be skipped.
        let ascii = source.text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 < 0x80 } ? bytes.map { Unicode.Scalar($0) } : nil
        }
        self.scalars = (ascii ?? nil) ?? Array(source.text.unicodeScalars)
    }

    /// The source text of `range`; an ASCII run (nearly all of a policy) is copied byte for byte.
    private func spelling(_ range: Range<Int>) -> String {
        let slice = scalars[range]
        guard slice.allSatisfy(\.isASCII) else {
            var text = ""
            text.unicodeScalars.append(contentsOf: slice)
            return text
        }
        return String(unsafeUninitializedCapacity: slice.count) { buffer in
            for (offset, scalar) in slice.enumerated() { buffer[offset] = UInt8(truncatingIfNeeded: scalar.value) }
            return slice.count
        }
    }

    /// Splits `source` into tokens.
    public static func tokenize(_ source: SourceFile) -> Output {
        var lexer = Lexer(source: source)
        lexer.run()
        return lexer.output
    }

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(_ offset: Int = 1) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private var location: SourceLocation { SourceLocation(file: source.name, line: line, column: column) }

    private mutating func advance() {
        guard let scalar = current else { return }
        position += 1
        if scalar == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
    }

    private mutating func report(_ message: String, at location: SourceLocation) {
        output.diagnostics.append(Diagnostic(message, at: location, in: source))
    }

    private mutating func emit(_ kind: Token.Kind, at location: SourceLocation, from start: Int) {
        output.tokens.append(Token(kind: kind, location: location, text: spelling(start..<position)))
    }

    private mutating func run() {
        while let scalar = current {
            let start = position
            let startLocation = location
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                advance()
            } else if scalar == "#" {
                while let next = current, next != "\n" { advance() }
                var text = spelling(start..<position)
                if text.hasSuffix("\r") { text.removeLast() }
                output.comments.append(Comment(location: startLocation, text: text))
            } else if Self.isWordStart(scalar) {
                while let next = current, Self.isWordPart(next) { advance() }
                emit(.word(spelling(start..<position)), at: startLocation, from: start)
            } else if Self.isDigit(scalar) || (scalar == "-" && peek().map(Self.isDigit) == true) {
                lexNumber(start: start, at: startLocation)
            } else if scalar == "\"" {
                lexString(start: start, at: startLocation)
            } else {
                lexSymbol(scalar, start: start, at: startLocation)
            }
        }
        output.tokens.append(Token(kind: .end, location: location, text: ""))
    }

    private mutating func lexNumber(start: Int, at startLocation: SourceLocation) {
        let negative = current == "-"
        if negative { advance() }
        let bodyStart = position
        while let next = current, Self.isWordPart(next) { advance() }
        let body = spelling(bodyStart..<position)
        let text = spelling(start..<position)
        if body.unicodeScalars.allSatisfy(Self.isDigit) {
            if let value = Int64(text) {
                emit(.integer(value), at: startLocation, from: start)
            } else {
                report("integer `\(text)` is out of range (64-bit)", at: startLocation)
                emit(.invalid, at: startLocation, from: start)
            }
            return
        }
        if negative {
            report("duration `\(text)` cannot be negative", at: startLocation)
            emit(.invalid, at: startLocation, from: start)
            return
        }
        switch DurationText.parse(body) {
        case .success(let seconds):
            emit(.duration(seconds), at: startLocation, from: start)
        case .failure(.outOfRange):
            report("duration `\(text)` is out of range", at: startLocation)
            emit(.invalid, at: startLocation, from: start)
        case .failure(.malformed):
            report("invalid duration `\(text)`: use the units d, h, m, s in that order, each at most once (e.g. `1h30m`)",
                at: startLocation)
            emit(.invalid, at: startLocation, from: start)
        }
    }

    private mutating func lexString(start: Int, at startLocation: SourceLocation) {
        advance()  // opening quote
        // The common string has no escape, no `*` and ends on its line: its value is its text.
        var end = position
        while end < scalars.count {
            let scalar = scalars[end]
            if scalar == "\"" || scalar == "\\" || scalar == "\n" || scalar == "*" { break }
            end += 1
        }
        if end < scalars.count, scalars[end] == "\"" {
            let value = spelling(position..<end)
            while position <= end { advance() }
            let token = StringLiteral(value: value, pattern: GlobPattern(elements: [.literal(value)]), escapedStars: [])
            emit(.string(token), at: startLocation, from: start)
            return
        }
        var value = ""
        var elements: [GlobPattern.Element] = []
        var literal = ""
        var escapedStars: [SourceLocation] = []
        var terminated = false
        while let scalar = current, scalar != "\n" {
            if scalar == "\"" {
                advance()
                terminated = true
                break
            }
            if scalar == "\\" {
                let escapeLocation = location
                advance()
                let escaped = current
                switch escaped {
                case "\""?, "\\"?:
                    value.unicodeScalars.append(escaped ?? "\\")
                    literal.unicodeScalars.append(escaped ?? "\\")
                    advance()
                case "n"?:
                    value += "\n"
                    literal += "\n"
                    advance()
                case "*"?:
                    value += "*"
                    literal += "*"
                    escapedStars.append(escapeLocation)
                    advance()
                default:
                    let shown = escaped.map { $0 == "\n" ? "" : String(Character($0)) } ?? ""
                    report("invalid escape `\\\(shown)` in string; use `\\\"`, `\\\\` or `\\n`", at: escapeLocation)
                    if let escaped, escaped != "\n" {
                        value.unicodeScalars.append(escaped)
                        literal.unicodeScalars.append(escaped)
                        advance()
                    }
                }
                continue
            }
            value.unicodeScalars.append(scalar)
            if scalar == "*" {
                elements.append(.literal(literal))
                elements.append(.wildcard)
                literal = ""
            } else {
                literal.unicodeScalars.append(scalar)
            }
            advance()
        }
        if !terminated {
            report("unterminated string: add a closing `\"` on the same line", at: startLocation)
        }
        elements.append(.literal(literal))
        let token = StringLiteral(value: value, pattern: GlobPattern(elements: elements), escapedStars: escapedStars)
        emit(.string(token), at: startLocation, from: start)
        if !terminated {
            // Already reported: an invalid token makes the parser skip the rule silently instead of cascading.
            output.tokens.append(Token(kind: .invalid, location: location, text: ""))
        }
    }

    private mutating func lexSymbol(_ scalar: Unicode.Scalar, start: Int, at startLocation: SourceLocation) {
        let next = peek()
        var symbol: Symbol?
        switch (scalar, next) {
        case ("<", "="?): symbol = .lessOrEqual
        case (">", "="?): symbol = .greaterOrEqual
        case ("=", "="?): symbol = .equal
        case ("!", "="?): symbol = .notEqual
        default: symbol = Symbol(rawValue: String(Character(scalar)))
        }
        if let symbol {
            for _ in symbol.rawValue.unicodeScalars { advance() }
            emit(.symbol(symbol), at: startLocation, from: start)
            return
        }
        advance()
        switch scalar {
        case "=": report("unexpected `=`; did you mean `==`?", at: startLocation)
        case "!": report("unexpected `!`; use `not` or `!=`", at: startLocation)
        case "&": report("unexpected `&`; use `and`", at: startLocation)
        case "|": report("unexpected `|`; use `or`", at: startLocation)
        case "'": report("unexpected `'`; strings use double quotes", at: startLocation)
        default: report("unexpected character `\(Character(scalar))`", at: startLocation)
        }
        emit(.invalid, at: startLocation, from: start)
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    static func isWordStart(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
    }

    static func isWordPart(_ scalar: Unicode.Scalar) -> Bool { isWordStart(scalar) || isDigit(scalar) }
}
