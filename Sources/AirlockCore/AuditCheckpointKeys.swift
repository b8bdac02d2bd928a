import Crypto
import Foundation

/// The two private keys that sign audit checkpoints: an Ed25519 key and an ML-DSA-65 key (its 32-byte seed).
///
/// They live in a key file outside the database (`audit.checkpoint_key_file`, made by `airlock audit keygen`),
/// one canonical JSON object:
///
/// ```
/// {"ed25519_private_key":"<base64 of the 32-byte seed>","format":"airlock-audit-checkpoint-keys/v1",
///  "ml_dsa_65_seed":"<base64 of the 32-byte seed>"}
/// ```
///
/// Printing the keys (`description`, `debugDescription`, `dump`) shows only their key ids; the private bytes are
/// reachable only through ``fileContents``, which `airlock audit keygen` writes to a 0600 file.
public struct AuditCheckpointKeys: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The `format` member of a key file.
    public static let format = "airlock-audit-checkpoint-keys/v1"

    private let ed25519: Curve25519.Signing.PrivateKey
    private let mlDSA65: MLDSA65.PrivateKey
    private let ed25519Public: AuditCheckpointPublicKey
    private let mlDSA65Public: AuditCheckpointPublicKey
    /// The public halves (Ed25519 first), which verify this pair's signatures.
    public let publicKeys: AuditCheckpointKeySet

    /// A new pair from the system's secure random number generator.
    public static func generate() throws(AuditCheckpointError) -> AuditCheckpointKeys {
        do {
            return try AuditCheckpointKeys(ed25519: Curve25519.Signing.PrivateKey(), mlDSA65: MLDSA65.PrivateKey())
        } catch let error as AuditCheckpointError {
            throw error
        } catch {
            throw AuditCheckpointError(code: AuditCheckpointError.signingFailedCode, message: "cannot generate an ml-dsa-65 key")
        }
    }

    private init(ed25519: Curve25519.Signing.PrivateKey, mlDSA65: MLDSA65.PrivateKey) throws(AuditCheckpointError) {
        self.ed25519 = ed25519
        self.mlDSA65 = mlDSA65
        self.ed25519Public = try AuditCheckpointPublicKey(
            algorithm: .ed25519, bytes: Array(ed25519.publicKey.rawRepresentation))
        self.mlDSA65Public = try AuditCheckpointPublicKey(
            algorithm: .mlDSA65, bytes: Array(mlDSA65.publicKey.rawRepresentation))
        self.publicKeys = AuditCheckpointKeySet([ed25519Public, mlDSA65Public])
    }

    /// Parses a key file's content (surrounding whitespace ignored). Exactly the three members, each seed standard
    /// base64 of 32 bytes.
    /// - Throws: `invalid_checkpoint_keys`; the message never quotes the content.
    public init(fileContents: String) throws(AuditCheckpointError) {
        guard let value = try? JSONValue.parse(fileContents.trimmingCharacters(in: .whitespacesAndNewlines)),
              let object = value.objectValue
        else {
            throw .invalidKeys("not a checkpoint key file (one JSON object from `airlock audit keygen`)")
        }
        guard object["format"]?.stringValue == Self.format else {
            throw .invalidKeys("`format` must be `\(Self.format)`")
        }
        let known: Set<String> = ["format", "ed25519_private_key", "ml_dsa_65_seed"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidKeys("unknown member `\(unknown)`")
        }
        guard let edText = object["ed25519_private_key"]?.stringValue, let edSeed = Base64Strict.decode(edText),
              edSeed.count == 32, let edKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: edSeed)
        else {
            throw .invalidKeys("`ed25519_private_key` must be standard base64 of 32 bytes")
        }
        guard let mlText = object["ml_dsa_65_seed"]?.stringValue, let mlSeed = Base64Strict.decode(mlText),
              mlSeed.count == 32, let mlKey = try? MLDSA65.PrivateKey(seedRepresentation: mlSeed, publicKey: nil)
        else {
            throw .invalidKeys("`ml_dsa_65_seed` must be standard base64 of 32 bytes")
        }
        try self.init(ed25519: edKey, mlDSA65: mlKey)
    }

    /// Reads the key file at `path`, which must be private to this user (``SecretFile``: a file its group or others
    /// may read is refused, as every secret file is).
    /// - Throws: ``SecretFile``'s codes (`secret_file_exposed`, …) with the fix, or `invalid_checkpoint_keys`
    ///   naming `path`, never the content.
    public static func load(fromFile path: String) throws(AuditCheckpointError) -> AuditCheckpointKeys {
        try AuditCheckpointError.readKeyFile(path, named: "checkpoint key file", invalid: AuditCheckpointError.invalidKeys) {
            content throws(AuditCheckpointError) in try AuditCheckpointKeys(fileContents: content)
        }
    }

    /// The secret key file content (canonical JSON and a newline). Only for writing the key file; never log it.
    public var fileContents: String {
        JSONValue.object([
            "format": .string(Self.format),
            "ed25519_private_key": .string(Base64Strict.encode(Array(ed25519.rawRepresentation))),
            "ml_dsa_65_seed": .string(Base64Strict.encode(Array(mlDSA65.seedRepresentation))),
        ]).canonicalString() + "\n"
    }

    /// Ed25519 and ML-DSA-65 signatures of `message`, with their key ids.
    func sign(_ message: [UInt8]) throws(AuditCheckpointError) -> [AuditCheckpoint.Signature] {
        do {
            return [
                AuditCheckpoint.Signature(
                    algorithm: .ed25519, keyID: ed25519Public.keyID, bytes: Array(try ed25519.signature(for: message))),
                AuditCheckpoint.Signature(
                    algorithm: .mlDSA65, keyID: mlDSA65Public.keyID, bytes: Array(try mlDSA65.signature(for: message))),
            ]
        } catch {
            throw AuditCheckpointError(code: AuditCheckpointError.signingFailedCode, message: "cannot sign the checkpoint")
        }
    }

    /// The key ids only, never key bytes.
    public var description: String {
        "AuditCheckpointKeys(\(publicKeys.keys.map(\.keyID).joined(separator: ", ")))"
    }

    /// The same as ``description``.
    public var debugDescription: String { description }

    /// A mirror that exposes only the key ids, so `dump` cannot reveal a private key.
    public var customMirror: Mirror {
        Mirror(self, children: ["keyIDs": publicKeys.keys.map(\.keyID)], displayStyle: .struct)
    }
}
