/// Why a policy test file could not be read: the file, the case when the problem is inside one, and what is wrong.
///
/// A malformed test file fails the whole `airlock policy test` run, so that a typo never passes silently.
public struct PolicyTestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The test file as named in the run, e.g. `Policies/tests/production.json`.
    public let file: String
    /// The 1-based position of the case in the file's `cases`, when the problem is inside a case.
    public let caseNumber: Int?
    /// The case's `name`, when the problem is inside a case that has one.
    public let caseName: String?
    /// What is wrong, one lowercase line, e.g. "unknown key `expect.decison`; did you mean `decision`?".
    public let message: String

    /// Creates an error.
    public init(file: String, caseNumber: Int? = nil, caseName: String? = nil, message: String) {
        self.file = file
        self.caseNumber = caseNumber
        self.caseName = caseName
        self.message = message
    }

    /// `file: case `name`: message`; an unnamed case shows as `case #3`, and a file-level problem has no case part.
    public var description: String {
        var parts = [file]
        if let caseName {
            parts.append("case `\(caseName)`")
        } else if let caseNumber {
            parts.append("case #\(caseNumber)")
        }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
