/// Why a checkpoint, a checkpoint key file or a set of checkpoint public keys was refused.
///
/// Callers branch on ``code``; ``message`` is one lowercase line for people. Neither ever holds a private key: at
/// most a key id, an algorithm name, a sequence number or a file path.
public struct AuditCheckpointError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `invalid_checkpoint`: not a checkpoint in the form Airlock writes (a missing or malformed member).
    public static let invalidCheckpointCode = "invalid_checkpoint"
    /// `checkpoint_signature_missing`: one of the two required signatures (Ed25519, ML-DSA-65) is absent.
    public static let signatureMissingCode = "checkpoint_signature_missing"
    /// `checkpoint_unknown_key`: a signature names a key that is not among the trusted public keys.
    public static let unknownKeyCode = "checkpoint_unknown_key"
    /// `checkpoint_signature_invalid`: a signature does not verify over the checkpoint's sequence, hash and time.
    public static let signatureInvalidCode = "checkpoint_signature_invalid"
    /// `invalid_checkpoint_keys`: a key file or a public key set that does not hold keys in Airlock's form.
    public static let invalidKeysCode = "invalid_checkpoint_keys"
    /// `checkpoint_signing_failed`: the signer refused to sign (should never happen).
    public static let signingFailedCode = "checkpoint_signing_failed"

    /// The stable code, one of the constants above (or a ``SecretFileError`` code for an unsafe key file).
    public let code: String
    /// One line for people, without secrets.
    public let message: String

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }

    static func invalid(_ message: String) -> AuditCheckpointError {
        AuditCheckpointError(code: invalidCheckpointCode, message: message)
    }

    static func invalidKeys(_ message: String) -> AuditCheckpointError {
        AuditCheckpointError(code: invalidKeysCode, message: message)
    }
}
