/// A policy source file: the name shown in diagnostics and the full text.
public struct SourceFile: Sendable, Hashable {
    /// The name used in diagnostics, usually the file name (`prod.airlock`).
    public let name: String
    /// The complete text of the file.
    public let text: String
    /// The lines of `text`, without their terminators (`\n` or `\r\n`).
    public let lines: [String]

    /// Creates a source file from its name and text.
    public init(name: String, text: String) {
        self.name = name
        self.text = text
        // Split on the byte `\n` (as Characters, "\r\n" is one grapheme that `split(separator: "\n")` misses); in
        // UTF-8 that byte is only ever the scalar `\n`, so every piece is whole scalars.
        self.lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
        }
    }

    /// The text of the 1-based line `number`, or an empty string when there is no such line.
    public func line(_ number: Int) -> String {
        guard number >= 1, number <= lines.count else { return "" }
        return lines[number - 1]
    }
}
