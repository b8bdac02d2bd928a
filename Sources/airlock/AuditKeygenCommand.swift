import AirlockCore
import ArgumentParser
import Foundation

/// `airlock audit keygen --out FILE`: a new checkpoint key file (Ed25519 and ML-DSA-65), mode 0600; with
/// `--chain`, a chain key file (an HMAC-SHA-256 key for a keyed audit chain) instead.
struct AuditKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key file that signs audit checkpoints (audit.checkpoint_key_file), or with --chain one that keys the audit chain (audit.chain_key_file).",
        discussion: """
            Writes an Ed25519 and an ML-DSA-65 private key to a new file readable by this user only (mode 0600); \
            refuses to overwrite an existing file. Prints the key ids, never the private keys. Brokers publish the \
            public keys at GET /.well-known/airlock-audit-keys. With --chain: a 32-byte HMAC key for a keyed \
            audit chain (every broker of the deployment needs the same file; keep a copy outside the database's \
            reach, since verifying the chain needs it).
            """)

    @Option(help: ArgumentHelp("The key file to create.", valueName: "file"))
    var out: String

    @Flag(help: "Create a chain key (audit.chain_key_file) instead of checkpoint keys.")
    var chain = false

    func run() throws {
        if chain {
            let key = AuditChainKey.generate()
            try SecretFile.createNew(out, bytes: Array(key.fileContents.utf8))
            print("wrote a chain key to \(out) (mode 0600)")
            print("chain key id \(key.keyID)")
            print("set audit.chain_key_file (or AIRLOCK_AUDIT_CHAIN_KEY_FILE) to \(out) on every broker; "
                + "the broker logs the first keyed sequence (airlock audit verify --keyed-from)")
            return
        }
        let keys = try AuditCheckpointKeys.generate()
        try SecretFile.createNew(out, bytes: Array(keys.fileContents.utf8))
        print("wrote checkpoint keys to \(out) (mode 0600)")
        for key in keys.publicKeys.keys { print("key id \(key.keyID)") }
        print("set audit.checkpoint_key_file (or AIRLOCK_AUDIT_CHECKPOINT_KEY_FILE) to \(out) on every broker")
    }
}
