import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// `airlock keys generate | rotate`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the master key (key-encryption key) of envelope encryption.",
        subcommands: [Generate.self, Rotate.self])

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

    /// Rewraps every data key under the current master key.
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrap every data key under the current master key.",
            discussion: """
                Give the new key as AIRLOCK_MASTER_KEY (or keys.master_key_file) and the old one in \
                AIRLOCK_PREVIOUS_MASTER_KEYS (or keys.previous_key_files). Brokers keep serving: configure them \
                with the same pair first, rotate, then drop the old key. Safe to run again.
                """)

        @OptionGroup var options: ServerOptions

        func run() async throws {
            let ring = try options.load().requireKeyRing()
            let rotation = try await options.withDatabase { database, _, logger in
                try await DataKeyStore(database: database, keyRing: ring).rotateKeyEncryptionKey(logger: logger)
            }
            print("rewrapped \(rotation.rewrapped) data keys under \(ring.current.id) (\(rotation.alreadyCurrent) already were)")
        }
    }
}
