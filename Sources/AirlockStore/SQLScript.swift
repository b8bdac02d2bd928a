/// Splits a SQL file into its statements.
///
/// postgres-nio sends every query through the extended protocol, which takes one statement at a time, so a
/// migration file must be split before it runs. Semicolons inside string literals (`'...'`, `E'...'`),
/// quoted identifiers (`"..."`), dollar-quoted bodies (`$$...$$`, `$tag$...$tag$`) and comments (`--`, nested
/// `/* */`) do not end a statement. Statements that hold only comments and whitespace are dropped.
public enum SQLScript {
    /// The statements of `text`, in order, each without its terminating semicolon.
    public static func statements(in text: String) throws(StoreError) -> [String] {
        let chars = Array(text.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var index = 0

        func append(_ range: Range<Int>) {
            current.append(contentsOf: chars[range])
        }

        while index < chars.count {
            let char = chars[index]
            let next: Unicode.Scalar? = index + 1 < chars.count ? chars[index + 1] : nil
            switch char {
            case "-" where next == "-":
                let end = chars[index...].firstIndex(of: "\n") ?? chars.count
                append(index..<end)
                index = end
            case "/" where next == "*":
                let end = try commentEnd(chars, from: index)
                append(index..<end)
                index = end
            case "'":
                let escapes = index > 0 && (chars[index - 1] == "E" || chars[index - 1] == "e")
                    && (index < 2 || !isIdentifierChar(chars[index - 2]))
                let end = try quotedEnd(chars, from: index, quote: "'", backslashEscapes: escapes)
                append(index..<end)
                hasCode = true
                index = end
            case "\"":
                let end = try quotedEnd(chars, from: index, quote: "\"", backslashEscapes: false)
                append(index..<end)
                hasCode = true
                index = end
            case "$" where index == 0 || !isIdentifierChar(chars[index - 1]):
                if let tagEnd = dollarTagEnd(chars, from: index) {
                    let tag = Array(chars[index..<tagEnd])
                    let end = try dollarBodyEnd(chars, from: tagEnd, tag: tag)
                    append(index..<end)
                    hasCode = true
                    index = end
                } else {
                    current.append(char)
                    hasCode = true
                    index += 1
                }
            case ";":
                if hasCode {
                    statements.append(String(current).trimmingWhitespace())
                }
                current = String.UnicodeScalarView()
                hasCode = false
                index += 1
            default:
                current.append(char)
                if !char.properties.isWhitespace { hasCode = true }
                index += 1
            }
        }
        if hasCode {
            statements.append(String(current).trimmingWhitespace())
        }
        return statements
    }

    private static func isIdentifierChar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c)
    }

    private static func commentEnd(_ chars: [Unicode.Scalar], from start: Int) throws(StoreError) -> Int {
        var depth = 0
        var i = start
        while i + 1 < chars.count {
            if chars[i] == "/" && chars[i + 1] == "*" {
                depth += 1
                i += 2
            } else if chars[i] == "*" && chars[i + 1] == "/" {
                depth -= 1
                i += 2
                if depth == 0 { return i }
            } else {
                i += 1
            }
        }
        throw unterminated("block comment", at: start, in: chars)
    }

    private static func quotedEnd(
        _ chars: [Unicode.Scalar], from start: Int, quote: Unicode.Scalar, backslashEscapes: Bool
    ) throws(StoreError) -> Int {
        var i = start + 1
        while i < chars.count {
            if backslashEscapes && chars[i] == "\\" {
                i += 2
                continue
            }
            if chars[i] == quote {
                if i + 1 < chars.count && chars[i + 1] == quote {
                    i += 2
                    continue
                }
                return i + 1
            }
            i += 1
        }
        throw unterminated(quote == "'" ? "string literal" : "quoted identifier", at: start, in: chars)
    }

    /// The index just past a dollar-quote opening tag (`$$` or `$tag$`), or nil if `$` does not open one.
    private static func dollarTagEnd(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var i = start + 1
        while i < chars.count {
            let c = chars[i]
            if c == "$" { return i + 1 }
            let allowed = c == "_" || c.properties.isAlphabetic || (i > start + 1 && ("0"..."9").contains(c))
            if !allowed { return nil }
            i += 1
        }
        return nil
    }

    private static func dollarBodyEnd(
        _ chars: [Unicode.Scalar], from start: Int, tag: [Unicode.Scalar]
    ) throws(StoreError) -> Int {
        var i = start
        while i + tag.count <= chars.count {
            if chars[i] == "$" && Array(chars[i..<(i + tag.count)]) == tag {
                return i + tag.count
            }
            i += 1
        }
        throw unterminated("dollar-quoted string", at: start - tag.count, in: chars)
    }

    private static func unterminated(_ what: String, at index: Int, in chars: [Unicode.Scalar]) -> StoreError {
        let line = chars[..<index].filter { $0 == "\n" }.count + 1
        return StoreError(code: "sql_syntax", message: "unterminated \(what) starting on line \(line)")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
