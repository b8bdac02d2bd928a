import AirlockCore
import ArgumentParser
import Foundation

/// `airlock audit keygen --out FILE`: a new checkpoint key file (Ed25519 and ML-DSA-65), mode 0600.
struct AuditKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key file that signs audit checkpoints (for audit.checkpoint_key_file).",
        discussion: """
            Writes an Ed25519 and an ML-DSA-65 private key to a new file readable by this user only (mode 0600); \
            refuses to overwrite an existing file. Prints the key ids, never the private keys. Brokers publish the \
            public keys at GET /.well-known/airlock-audit-keys.
            """)

    @Option(help: ArgumentHelp("The key file to create.", valueName: "file"))
    var out: String

    func run() throws {
        let keys = try AuditCheckpointKeys.generate()
        try SecretFile.createNew(out, bytes: Array(keys.fileContents.utf8))
        print("wrote checkpoint keys to \(out) (mode 0600)")
        for key in keys.publicKeys.keys { print("key id \(key.keyID)") }
        print("set audit.checkpoint_key_file (or AIRLOCK_AUDIT_CHECKPOINT_KEY_FILE) to \(out) on every broker")
    }
}
