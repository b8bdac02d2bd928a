import AirlockPolicy
import ArgumentParser
import Foundation

/// `airlock policy fmt [--check] [FILES...]`: rewrite policy files in the canonical layout.
struct PolicyFormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fmt",
        abstract: "Rewrite policy files in the canonical layout.",
        discussion: """
            Rewrites each file in place and prints the path of every file it changed; formatting twice changes \
            nothing. With --check, changes nothing, prints the files that would change and exits 1 if there are \
            any. A directory argument means its *.airlock files; no argument means Policies/*.airlock. A file \
            with a syntax error is left untouched and reported on stderr, and the exit status is 1; the other \
            files are still formatted.
            """)

    @Flag(help: "Change nothing; list the files that would change and exit 1 if any would.")
    var check = false

    @Argument(help: "Policy files or directories (default: Policies/).")
    var paths: [String] = []

    func run() throws {
        var failed = false
        var changed: [String] = []
        for path in try files() {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                PolicyCommandSupport.printError("error: cannot read `\(path)` as utf-8 text")
                failed = true
                continue
            }
            switch AirlockPolicy.Formatter.format(SourceFile(name: path, text: text)) {
            case .failure(let error):
                PolicyCommandSupport.report(error)
                failed = true
            case .success(let output) where output != text:
                if !check {
                    guard write(output, to: path) else {
                        failed = true
                        continue
                    }
                }
                changed.append(path)
                print(path)
            case .success:
                break
            }
        }
        if failed || (check && !changed.isEmpty) { throw ExitCode(1) }
    }

    /// The files to format: each file argument, each directory's `*.airlock` files in name order.
    private func files() throws -> [String] {
        let manager = FileManager.default
        var files: [String] = []
        for path in paths.isEmpty ? [PolicyCommand.defaultDirectory] : paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                PolicyCommandSupport.printError("error: `\(path)` does not exist")
                throw ExitCode(1)
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let names = (try? manager.contentsOfDirectory(atPath: path)) ?? []
            for name in names.sorted() where name.hasSuffix(".airlock") {
                let file = URL(fileURLWithPath: path, isDirectory: true).appendingPathComponent(name).relativePath
                var nested: ObjCBool = false
                if manager.fileExists(atPath: file, isDirectory: &nested), !nested.boolValue { files.append(file) }
            }
        }
        return files
    }

    /// Replaces the file atomically, keeping its permissions; reports a failure on stderr.
    private func write(_ text: String, to path: String) -> Bool {
        let manager = FileManager.default
        let permissions = (try? manager.attributesOfItem(atPath: path))?[.posixPermissions]
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            if let permissions { try manager.setAttributes([.posixPermissions: permissions], ofItemAtPath: path) }
            return true
        } catch {
            PolicyCommandSupport.printError("error: cannot write `\(path)`: \(error.localizedDescription)")
            return false
        }
    }
}
