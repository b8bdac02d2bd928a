import AirlockCore
import AirlockServer
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

        @Option(name: .customLong("chain-key"), help: ArgumentHelp(
            "A chain key file of a keyed chain (repeat it for every key the chain was keyed with; default: audit.chain_key_file).",
            valueName: "file"))
        var chainKeys: [String] = []

        @Option(help: ArgumentHelp(
            "The first keyed sequence, as the broker logged it (default 1 when a chain key is given): every event from it on must be keyed.",
            valueName: "sequence"))
        var keyedFrom: Int64?

        func validate() throws {
            if keys != nil && checkpoint == nil { throw ValidationError("--keys needs --checkpoint") }
            if let keyedFrom, keyedFrom < 1 { throw ValidationError("--keyed-from must be 1 or more") }
        }

        /// The chain keys to verify with: the files given, else the configured one (none for a plain chain).
        static func loadChainKeys(files: [String], settings: AirlockConfiguration) throws -> [AuditChainKey] {
            guard !files.isEmpty else { return settings.auditChainKey.map { [$0] } ?? [] }
            var keys: [AuditChainKey] = []
            for file in files {
                do {
                    keys.append(try AuditChainKey.load(fromFile: file))
                } catch {
                    throw ValidationError(error.message)
                }
            }
            return keys
        }

        func run() async throws {
            let chain = try Self.loadChainKeys(files: chainKeys, settings: try options.load())
            if keyedFrom != nil && chain.isEmpty {
                throw ValidationError("--keyed-from needs a chain key (--chain-key FILE or audit.chain_key_file)")
            }
            if let checkpoint {
                try await CheckpointCheck(
                    checkpointFile: checkpoint, keysFile: keys, chainKeys: chain, keyedFrom: keyedFrom, json: json
                ).run(options: options)
                return
            }
            let keyedFrom = self.keyedFrom
            let result = try await options.withDatabase { database, _, logger in
                try await ChainVerifier(database: database, chainKeys: chain, keyedFrom: keyedFrom).verify(logger: logger)
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
