import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// `airlock keys generate | rotate | status`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the master key (key-encryption key) of envelope encryption.",
        subcommands: [Generate.self, Rotate.self, Status.self])

    /// Prints a new master key.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new master key for AIRLOCK_MASTER_KEY or a key file.",
            discussion: "Store it outside the database (a secret manager or a 0600 file); it is printed once and nowhere else.")

        func run() throws {
            let key = KeyEncryptionKey.generate()
            print(key.text)
            FileHandle.standardError.write(Data("key id \(key.id)\n".utf8))
        }
    }

    /// Rotates to the current master key and a new data key.
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate to the current master key and a new data key, and re-encrypt every stored secret.",
            discussion: """
                Give the new key as AIRLOCK_MASTER_KEY (or keys.master_key_file) and the old one in \
                AIRLOCK_PREVIOUS_MASTER_KEYS (or keys.previous_key_files). Configure the brokers with the same pair \
                first, so they can read both while this runs. A run retires the active data key for a new one, \
                rewraps every data key under the current master key, re-encrypts every sealed secret under the new \
                data key and destroys each old data key once nothing uses it. It succeeds only when nothing is \
                left under a previous master key or an old data key; then drop the old key everywhere. One rotation \
                runs at a time: a second one fails at once (rotation_in_progress). Safe to run again: --resume \
                finishes an interrupted run without starting another data key.
                """)

        @OptionGroup var options: ServerOptions

        @Flag(help: "Finish an earlier rotation: keep the active data key.")
        var resume = false

        @Flag(help: "Start the new data key and rewrap, but leave re-encryption to the brokers' background pass (see `airlock keys status`).")
        var background = false

        func run() async throws {
            let ring = try options.load().requireKeyRing()
            let rotationOptions = KeyRotation.Options(newDataKey: !resume, reencrypt: !background)
            let report = try await options.withDatabase { database, _, logger in
                try await KeyRotation(keys: DataKeyStore(database: database, keyRing: ring)).run(rotationOptions, logger: logger)
            }
            var lines: [String] = []
            if let key = report.newDataKey { lines.append("new data key \(key.uuidString.lowercased())") }
            lines.append("\(report.rewrapped) data key(s) rewrapped under master key \(report.masterKeyID)")
            if background {
                lines.append("re-encryption left to the brokers: follow it with `airlock keys status`")
            } else {
                lines.append("\(report.reencrypted) secret(s) re-encrypted, \(report.destroyed.count) old data key(s) destroyed")
            }
            print(lines.joined(separator: "\n"))
            if let usage = report.usage { print(KeyStatusText.render(usage, ring: ring)) }
        }
    }

    /// Shows what is wrapped by which master key and sealed with which data key.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which master key wraps each data key and how many secrets each data key seals.",
            discussion: "Prints ids and counts only, never keys or secrets. Needs no master key (with one, it marks current and previous keys).")

        @OptionGroup var options: ServerOptions

        func run() async throws {
            let ring = try options.load().keyRing
            let usage = try await options.withDatabase { database, _, logger in
                try await KeyUsage.load(from: database, logger: logger)
            }
            print(KeyStatusText.render(usage, ring: ring))
        }
    }
}

/// The text of `airlock keys status`.
enum KeyStatusText {
    static func render(_ usage: KeyUsage, ring: KeyRing?) -> String {
        var lines = ["master keys:"]
        let byMaster = usage.dataKeysByMasterKey
        var masterIDs = byMaster.keys.sorted()
        if let ring { masterIDs = ring.keys.map(\.id) + masterIDs.filter { ring.key(id: $0) == nil } }
        if masterIDs.isEmpty { lines.append("  (none: no data key yet)") }
        for id in masterIDs {
            let role: String
            if let ring {
                role = id == ring.current.id ? "current" : ring.key(id: id) != nil ? "previous" : "not configured"
            } else {
                role = ""
            }
            let count = byMaster[id] ?? 0
            lines.append("  \(id)  wraps \(count) data key\(count == 1 ? "" : "s")\(role.isEmpty ? "" : "  (\(role))")")
        }
        lines.append("data keys:")
        if usage.dataKeys.isEmpty { lines.append("  (none)") }
        for key in usage.dataKeys {
            let columns = key.secrets.keys.sorted().map { "\($0) \(key.secrets[$0] ?? 0)" }.joined(separator: ", ")
            let count = key.secretCount
            lines.append(
                "  \(key.id.uuidString.lowercased())  \(key.active ? "active " : "retired")  wrapped by \(key.masterKeyID)  "
                    + "seals \(count) secret\(count == 1 ? "" : "s")\(columns.isEmpty ? "" : " (\(columns))")")
        }
        for (column, count) in usage.unattributed.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(count) value(s) in \(column) name no data key and cannot be opened")
        }
        if let ring {
            let unfinished = usage.unfinished(currentMasterKey: ring.current.id)
            lines.append(unfinished.isEmpty
                ? "rotation: complete (everything under \(ring.current.id) and the active data key)"
                : "rotation: not complete (\(unfinished.count) item\(unfinished.count == 1 ? "" : "s") left; run `airlock keys rotate --resume`)")
        }
        return lines.joined(separator: "\n")
    }
}
