/// A position in a policy source file. Lines and columns count from 1; a column counts
/// Unicode scalars, so a caret lines up under the spot for any text without wide characters.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name of the file, as in ``SourceFile/name``.
    public let file: String
    /// The 1-based line.
    public let line: Int
    /// The 1-based column.
    public let column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }

    /// Orders by file name, then line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}
