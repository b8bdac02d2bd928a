/// An error from Airlock's envelope encryption and key handling.
///
/// Callers branch on ``code``, which is stable once released. ``message`` is one
/// lowercase line for people. Neither ever contains key material, plaintext or
/// the text of a key: at most a key id, a data key id or a file path.
public struct CryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable machine-readable code, for example `decryption_failed`.
    public let code: String
    /// A one-line human-readable explanation that contains no secret.
    public let message: String

    /// Creates an error with a stable code and a secret-free message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String {
        "\(code): \(message)"
    }
}

extension CryptoError {
    /// Code of ``invalidKeyText(_:)``: key encryption key text is malformed.
    public static let invalidKeyTextCode = "invalid_key_encryption_key"
    /// Code of ``keyFileUnreadable(path:)``: the key file cannot be read.
    public static let keyFileUnreadableCode = "key_file_unreadable"
    /// Code of ``unknownKeyEncryptionKey(id:)``: no key in the ring has the required id.
    public static let unknownKeyEncryptionKeyCode = "unknown_key_encryption_key"
    /// Code of ``decryptionFailed``: authentication failed (wrong key, wrong context or tampering).
    public static let decryptionFailedCode = "decryption_failed"
    /// Code of ``wrongDataKey(expected:given:)``: a secret was sealed under another data key.
    public static let wrongDataKeyCode = "wrong_data_key"
    /// Code of ``invalidCiphertext(_:)``: bytes are not in a format Airlock writes.
    public static let invalidCiphertextCode = "invalid_ciphertext"
    /// Code of ``encryptionFailed``: the cipher refused to encrypt (should never happen).
    public static let encryptionFailedCode = "encryption_failed"

    /// Key encryption key text is malformed; `reason` must not quote the text.
    public static func invalidKeyText(_ reason: String) -> CryptoError {
        CryptoError(code: invalidKeyTextCode, message: "invalid key encryption key: \(reason)")
    }

    /// The key file at `path` cannot be read.
    public static func keyFileUnreadable(path: String) -> CryptoError {
        CryptoError(code: keyFileUnreadableCode, message: "cannot read key encryption key file `\(path)`")
    }

    /// No key encryption key with `id` is in the key ring.
    public static func unknownKeyEncryptionKey(id: String) -> CryptoError {
        CryptoError(
            code: unknownKeyEncryptionKeyCode,
            message: "key encryption key `\(id)` is not in the key ring"
        )
    }

    /// Decryption or authentication failed.
    public static let decryptionFailed = CryptoError(
        code: decryptionFailedCode,
        message: "decryption failed: wrong key, wrong context or tampered ciphertext"
    )

    /// A secret sealed under data key `expected` was opened with data key `given`.
    public static func wrongDataKey(expected: String, given: String) -> CryptoError {
        CryptoError(
            code: wrongDataKeyCode,
            message: "secret was sealed with data key `\(expected)`, not `\(given)`"
        )
    }

    /// The bytes are not a ciphertext in a format Airlock writes.
    public static func invalidCiphertext(_ reason: String) -> CryptoError {
        CryptoError(code: invalidCiphertextCode, message: "invalid ciphertext: \(reason)")
    }

    /// The cipher refused to encrypt.
    public static let encryptionFailed = CryptoError(
        code: encryptionFailedCode,
        message: "encryption failed"
    )
}
