import AirlockPolicy
import ArgumentParser
import Foundation

/// Helpers shared by the `airlock policy` subcommands: loading with diagnostics, reading inputs, stderr.
enum PolicyCommandSupport {
    /// Writes `text` and a newline to stderr.
    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Prints every diagnostic of `error` to stderr, then a count.
    static func report(_ error: PolicyLoadError) {
        let total = error.diagnostics.count + error.omittedCount
        printError(error.description)
        printError("\(total) error\(total == 1 ? "" : "s")")
    }

    /// Loads `DIR/*.airlock`, or prints the diagnostics to stderr and exits with status 1.
    static func loadPolicies(_ directory: String) throws -> PolicySet {
        switch PolicySet.load(directory: URL(fileURLWithPath: directory, isDirectory: true)) {
        case .success(let policies):
            return policies
        case .failure(let error):
            report(error)
            throw ExitCode(1)
        }
    }

    /// The text of `path` (`-` reads stdin), or an error message on stderr and exit status 1.
    static func readInput(_ path: String) throws -> String {
        let data: Data?
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: path)
        }
        guard let data, let text = String(data: data, encoding: .utf8) else {
            printError("error: cannot read `\(path)` as utf-8 text")
            throw ExitCode(1)
        }
        return text
    }
}
