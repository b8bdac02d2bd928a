import Foundation

/// An error from starting, using or stopping a throwaway local PostgreSQL cluster.
///
/// `code` is stable and meant for programs (for example `initdb_failed`, `start_failed`, `stop_failed`);
/// `message` is a single lowercase line for people. Log excerpts quoted in a message are joined with ` | `
/// so the message stays on one line. A message never contains the cluster's password.
public struct LocalClusterError: Error, CustomStringConvertible, Sendable {
    /// A stable, machine-readable identifier such as `binaries_not_found` or `start_failed`.
    public let code: String
    /// A one-line, lowercase explanation, possibly ending with the last lines of the relevant log.
    public let message: String

    /// Creates an error from a stable code and a one-line message.
    ///
    /// Line breaks in `message` are replaced with ` | ` so that the message stays on one line.
    public init(code: String, message: String) {
        self.code = code
        self.message = Self.oneLine(message)
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    /// Joins the lines of `text`, dropping empty ones, with ` | `.
    static func oneLine(_ text: String) -> String {
        text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
            .joined(separator: " | ")
    }

    /// An error for a failed step, with the tail of `log` (if any) appended and `secret` scrubbed out.
    static func step(
        _ code: String, _ message: String, log: String? = nil, secret: String? = nil
    ) -> LocalClusterError {
        var text = message
        if let log, let tail = LogTail.read(path: log, lines: 20), !tail.isEmpty {
            text += "; \((log as NSString).lastPathComponent) ends with: " + oneLine(tail)
        }
        if let secret, !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "********")
        }
        return LocalClusterError(code: code, message: text)
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs, as a `String`.
    fileprivate func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
