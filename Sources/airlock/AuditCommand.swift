import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// `airlock audit ...`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Inspect the audit log.",
        subcommands: [Verify.self, AuditTailCommand.self, AuditExportCommand.self, AuditKeygenCommand.self])

    /// `airlock audit verify`: walks the chain and reports the first bad sequence.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit hash chain end to end; exit 1 at the first bad sequence.")

        @OptionGroup var options: ServerOptions

        @Flag(help: "Print the result as JSON.")
        var json = false

        @Option(help: ArgumentHelp(
            "Also check the chain against a signed checkpoint a receiver kept (the airlock.audit.checkpoint event as delivered, or its data.checkpoint): exit 1 if the chain was truncated below it or rewritten.",
            valueName: "file"))
        var checkpoint: String?

        @Option(help: ArgumentHelp(
            "The public keys to trust, as GET /.well-known/airlock-audit-keys answers (default: those of audit.checkpoint_key_file).",
            valueName: "file"))
        var keys: String?

        func validate() throws {
            if keys != nil && checkpoint == nil { throw ValidationError("--keys needs --checkpoint") }
        }

        func run() async throws {
            if let checkpoint {
                try await CheckpointCheck(checkpointFile: checkpoint, keysFile: keys, json: json).run(options: options)
                return
            }
            let result = try await options.withDatabase { database, _, logger in
                try await ChainVerifier(database: database).verify(logger: logger)
            }
            if json {
                var object: [String: Any] = [
                    "intact": result.isIntact, "checked": result.checked, "last_sequence": result.lastSequence,
                    "last_hash": result.lastHash, "unchained": result.unchained,
                ]
                if let problem = result.problem {
                    object["first_bad_sequence"] = problem.sequence
                    object["reason"] = problem.reason
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else if let problem = result.problem {
                print("audit chain BROKEN at sequence \(problem.sequence): \(problem.reason)")
                print("\(result.checked) events verified before it")
            } else {
                print("audit chain intact: \(result.checked) events, head \(result.lastSequence) \(result.lastHash)")
                if result.unchained > 0 { print("\(result.unchained) committed events not yet chained") }
            }
            if !result.isIntact { throw ExitCode(1) }
        }
    }
}
