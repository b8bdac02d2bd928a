/// What the free-text fields people write (a request's `reason` and `ticket`, a review's `comment`) may hold:
/// any Unicode text except the characters that can make one line look like another on an approver's terminal or
/// page — control characters (C0, DEL, C1 such as U+009B), format characters (bidi overrides and isolates such as
/// U+202E, zero-width characters), line and paragraph separators (U+2028, U+2029), private-use and unassigned
/// code points. A multi-line field (`reason`, `comment`) may also hold newlines and tabs; a one-line field
/// (`ticket`) may not.
public enum FreeText {
    /// Why `text` is refused for `field`, or nil when it is allowed.
    public static func problem(in text: String, field: String, multiline: Bool) -> String? {
        for scalar in text.unicodeScalars {
            if multiline, scalar == "\n" || scalar == "\t" { continue }
            let category = scalar.properties.generalCategory
            let what: String? = switch category {
            case .control: "a control character"
            case .format: "a format character (such as a bidi override or a zero-width character)"
            case .lineSeparator, .paragraphSeparator: "a line or paragraph separator"
            case .privateUse: "a private-use character"
            case .unassigned, .surrogate: "an unassigned code point"
            default: nil
            }
            if let what {
                let code = String(scalar.value, radix: 16, uppercase: true)
                return "`\(field)` may not contain \(what): found U+\(String(repeating: "0", count: max(0, 4 - code.count)))\(code)"
            }
        }
        return nil
    }
}
