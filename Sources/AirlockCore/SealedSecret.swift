import Crypto
import Foundation

/// A secret encrypted with AES-256-GCM under a ``DataKey``, bound to its
/// ``EncryptionContext``.
///
/// Byte layout (``bytes``):
///
/// | offset | length | content |
/// |---|---|---|
/// | 0 | 1 | format version, `0x01` |
/// | 1 | 16 | the data key's UUID |
/// | 17 | 12 | nonce |
/// | 29 | n | ciphertext (as long as the plaintext) |
/// | 29 + n | 16 | GCM tag |
///
/// The associated data is the 17-byte header (version and data key id) followed
/// by ``EncryptionContext/associatedData``, so changing any byte, or opening in
/// another table, row or column, fails.
public struct SealedSecret: Sendable, Hashable, CustomStringConvertible {
    /// The format version this type writes and reads.
    public static let version: UInt8 = 0x01
    static let headerLength = 1 + 16
    static let nonceLength = 12
    static let tagLength = 16
    /// The length of a sealed empty plaintext: the smallest valid ciphertext.
    public static let minimumLength = headerLength + nonceLength + tagLength

    /// The complete ciphertext, as stored.
    public let bytes: [UInt8]

    /// Checks that `bytes` is a ciphertext in this format (version and minimum length);
    /// authenticity is checked only by ``open(with:context:)``.
    /// - Throws: `invalid_ciphertext`.
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count >= Self.minimumLength else {
            throw .invalidCiphertext("shorter than \(Self.minimumLength) bytes")
        }
        guard bytes[0] == Self.version else {
            throw .invalidCiphertext("unsupported format version \(bytes[0])")
        }
        self.bytes = bytes
    }

    /// Checks `data` as ``init(bytes:)`` does.
    /// - Throws: `invalid_ciphertext`.
    public init(data: Data) throws(CryptoError) {
        try self.init(bytes: Array(data))
    }

    /// The complete ciphertext as `Data`.
    public var data: Data {
        Data(bytes)
    }

    /// The id of the data key that sealed this secret.
    public var dataKeyID: UUID {
        let b = bytes
        return UUID(uuid: (
            b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
            b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16]
        ))
    }

    /// Encrypts `plaintext` under `key`, bound to `context`, with a fresh random nonce.
    /// - Throws: `encryption_failed` if the cipher refuses (not expected to happen).
    public static func seal(
        _ plaintext: [UInt8], with key: DataKey, context: EncryptionContext
    ) throws(CryptoError) -> SealedSecret {
        let header = Self.header(for: key.id)
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(plaintext, using: key.key, authenticating: header + context.associatedData)
        } catch {
            throw .encryptionFailed
        }
        guard let combined = box.combined else { throw .encryptionFailed }
        return SealedSecret(unchecked: header + Array(combined))
    }

    /// Decrypts with `key` and checks the tag over the ciphertext, the header and `context`.
    ///
    /// - Throws: `wrong_data_key` when `key` is not the data key named in the
    ///   header; `decryption_failed` for a wrong context or any tampering.
    public func open(with key: DataKey, context: EncryptionContext) throws(CryptoError) -> [UInt8] {
        guard key.id == dataKeyID else {
            throw .wrongDataKey(
                expected: dataKeyID.uuidString.lowercased(), given: key.id.uuidString.lowercased()
            )
        }
        let header = Array(bytes[0..<Self.headerLength])
        do {
            let box = try AES.GCM.SealedBox(combined: bytes[Self.headerLength...])
            let plaintext = try AES.GCM.open(box, using: key.key, authenticating: header + context.associatedData)
            return Array(plaintext)
        } catch {
            throw .decryptionFailed
        }
    }

    /// The sealing data key id and the length, never content.
    public var description: String {
        "SealedSecret(dataKey: \(dataKeyID.uuidString.lowercased()), \(bytes.count) bytes)"
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    private static func header(for id: UUID) -> [UInt8] {
        let u = id.uuid
        return [
            version,
            u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7,
            u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15,
        ]
    }
}
