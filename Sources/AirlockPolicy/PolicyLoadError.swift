/// Why a policy set did not load: every problem found, sorted by location.
///
/// A policy set with any problem is never loaded; the broker keeps serving the last good set.
public struct PolicyLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The most diagnostics kept; the rest are counted in ``omittedCount``.
    public static let maximumDiagnostics = 50

    /// The diagnostics, sorted by file, line, column and message, at most ``maximumDiagnostics``.
    public let diagnostics: [Diagnostic]
    /// How many further diagnostics were found but not kept.
    public let omittedCount: Int

    /// Creates a load error from diagnostics in any order; sorts, removes duplicates and caps them.
    public init(diagnostics: [Diagnostic]) {
        let sorted = Array(Set(diagnostics)).sorted()
        self.diagnostics = Array(sorted.prefix(Self.maximumDiagnostics))
        self.omittedCount = sorted.count - self.diagnostics.count
    }

    /// Creates a load error for a problem that has no source location, such as an unreadable directory.
    public init(message: String, file: String) {
        self.init(diagnostics: [
            Diagnostic(location: SourceLocation(file: file, line: 1, column: 1), message: message, sourceLine: ""),
        ])
    }

    /// Every diagnostic rendered as `file:line:column: error: message`, the source line and a caret line,
    /// followed by a count of omitted diagnostics if any.
    public var description: String {
        var parts = diagnostics.map(\.description)
        if omittedCount > 0 {
            parts.append("\(omittedCount) more error\(omittedCount == 1 ? "" : "s") not shown")
        }
        return parts.joined(separator: "\n")
    }
}
