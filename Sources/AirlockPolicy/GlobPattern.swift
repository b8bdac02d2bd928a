/// The pattern on the right of `like`: literal text and `*` wildcards (`\*` in the source is a literal star).
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// One piece of a pattern.
    public enum Element: Sendable, Hashable {
        /// Text that must match exactly.
        case literal(String)
        /// `*`: any run of characters, possibly empty.
        case wildcard
    }

    /// The pieces in order; adjacent literals are merged and adjacent wildcards collapsed.
    public let elements: [Element]

    /// Creates a pattern, normalising adjacent pieces.
    public init(elements: [Element]) {
        var normalised: [Element] = []
        for element in elements {
            switch (normalised.last, element) {
            case (.wildcard?, .wildcard):
                continue
            case let (.literal(previous)?, .literal(text)):
                normalised[normalised.count - 1] = .literal(previous + text)
            case (_, .literal(let text)) where text.isEmpty:
                continue
            default:
                normalised.append(element)
            }
        }
        self.elements = normalised
    }

    /// The pattern as a string literal body: `*` for wildcards, `\*`, `\"`, `\\`, `\n` escaped.
    public var description: String {
        elements.map { element in
            switch element {
            case .wildcard:
                return "*"
            case .literal(let text):
                return StringEscaping.escape(text, escapingStars: true)
            }
        }.joined()
    }

    /// Whether `text` matches the whole pattern, comparing Unicode scalars.
    public func matches(_ text: String) -> Bool {
        let subject = Array(text.unicodeScalars)
        var pieces: [[Unicode.Scalar]?] = []  // nil = wildcard
        for element in elements {
            switch element {
            case .wildcard: pieces.append(nil)
            case .literal(let text): pieces.append(Array(text.unicodeScalars))
            }
        }
        // Anchored prefix, then each following literal found greedily-leftmost, anchored suffix.
        guard let first = pieces.first else { return subject.isEmpty }
        var position = 0
        var index = 0
        if let literal = first {
            guard subject.starts(with: literal) else { return false }
            position = literal.count
            index = 1
            if pieces.count == 1 { return position == subject.count }
        }
        let lastIsLiteral = pieces.last.map { $0 != nil } ?? false
        let middleEnd = lastIsLiteral ? pieces.count - 1 : pieces.count
        while index < middleEnd {
            if let literal = pieces[index] {
                guard let found = Self.find(literal, in: subject, from: position) else { return false }
                position = found + literal.count
            }
            index += 1
        }
        if lastIsLiteral, let literal = pieces.last ?? nil {
            guard subject.count - literal.count >= position else { return false }
            return Array(subject[(subject.count - literal.count)...]) == literal
        }
        return true
    }

    private static func find(_ needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int) -> Int? {
        guard needle.count <= haystack.count - start else { return nil }
        var candidate = start
        while candidate + needle.count <= haystack.count {
            if haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) { return candidate }
            candidate += 1
        }
        return nil
    }
}

/// Escaping of string literal bodies for printing policies and values.
enum StringEscaping {
    /// Escapes `"`, `\` and newline (and `*` when `escapingStars`).
    static func escape(_ text: String, escapingStars: Bool = false) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "*" where escapingStars: result += "\\*"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
