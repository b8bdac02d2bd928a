/// One problem found while loading a policy set: where it is and what is wrong.
///
/// Messages are one line, lowercase, and quote the user's input in backticks.
public struct Diagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Where the problem is; the caret goes under this column.
    public let location: SourceLocation
    /// What is wrong, e.g. "unknown attribute `principal.grops`; did you mean `principal.groups`?".
    public let message: String
    /// The text of the source line at ``location``, shown under the message.
    public let sourceLine: String

    /// Creates a diagnostic.
    public init(location: SourceLocation, message: String, sourceLine: String) {
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// Creates a diagnostic, taking the source line from `source`.
    public init(_ message: String, at location: SourceLocation, in source: SourceFile) {
        self.init(location: location, message: message, sourceLine: source.line(location.line))
    }

    /// The three-line rendering: `file:line:column: error: message`, the source line, and a caret under the column.
    public var description: String {
        "\(location): error: \(message)\n\(sourceLine)\n\(caretLine)"
    }

    /// Spaces (tabs where the source line has tabs) up to the column, then `^`.
    public var caretLine: String {
        var prefix = ""
        for (index, scalar) in sourceLine.unicodeScalars.enumerated() where index < location.column - 1 {
            prefix.append(scalar == "\t" ? "\t" : " ")
        }
        let missing = max(0, location.column - 1 - sourceLine.unicodeScalars.count)
        return prefix + String(repeating: " ", count: missing) + "^"
    }

    /// Orders by location, then message, so that diagnostics print in reading order.
    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        if lhs.location != rhs.location { return lhs.location < rhs.location }
        return lhs.message < rhs.message
    }
}
