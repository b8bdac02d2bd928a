import Crypto
import Foundation

/// A data key: a 256-bit AES key that seals ``SealedSecret``s and is stored only
/// wrapped (encrypted) by a ``KeyEncryptionKey``.
///
/// Printing a data key shows only its ``id``.
public struct DataKey: Sendable, Hashable {
    /// The data key's id, written into every secret it seals.
    public let id: UUID
    /// The AES-256 key.
    let key: SymmetricKey

    /// Creates a data key from an id and exactly 32 key bytes; `nil` for any other length.
    init?(id: UUID, keyBytes: [UInt8]) {
        guard keyBytes.count == 32 else { return nil }
        self.id = id
        self.key = SymmetricKey(data: keyBytes)
    }

    private init(id: UUID, key: SymmetricKey) {
        self.id = id
        self.key = key
    }

    /// A new data key with a random id and 32 bytes from the system's secure random number generator.
    public static func generate() -> DataKey {
        DataKey(id: UUID(), key: SymmetricKey(size: .bits256))
    }

    /// Encrypts this data key under `kek` with AES-256-GCM.
    ///
    /// The associated data is `airlock data key v1`, a zero byte and the data
    /// key's id as a lowercase UUID string, so a wrapped blob cannot be passed off
    /// as another data key.
    /// - Throws: `encryption_failed` if the cipher refuses (not expected to happen).
    public func wrap(with kek: KeyEncryptionKey) throws(CryptoError) -> WrappedDataKey {
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try key.withUnsafeBytes { keyBytes in
                try AES.GCM.seal(
                    Array(keyBytes), using: kek.key, authenticating: Self.associatedData(for: id)
                )
            }
        } catch {
            throw .encryptionFailed
        }
        guard let combined = sealed.combined else { throw .encryptionFailed }
        return WrappedDataKey(dataKeyID: id, kekID: kek.id, wrapped: Array(combined))
    }

    /// The associated data that binds a wrapped key to its data key id.
    static func associatedData(for id: UUID) -> [UInt8] {
        Array("airlock data key v1".utf8) + [0] + Array(id.uuidString.lowercased().utf8)
    }

    /// Whether two data keys have the same id and key bytes (bytes compared in constant time).
    public static func == (lhs: DataKey, rhs: DataKey) -> Bool {
        lhs.id == rhs.id && lhs.key == rhs.key
    }

    /// Hashes the id only.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
    }
}

extension DataKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `DataKey(<id>)`: the id only, never key bytes.
    public var description: String {
        "DataKey(\(id.uuidString.lowercased()))"
    }

    /// The same as ``description``.
    public var debugDescription: String {
        description
    }

    /// A mirror that exposes only the id, so `dump` cannot reveal key bytes.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id], displayStyle: .struct)
    }
}

/// A ``DataKey`` encrypted under a ``KeyEncryptionKey``: what Airlock stores.
///
/// `wrapped` is AES-GCM's combined form: a 12-byte nonce, the 32-byte encrypted
/// key and a 16-byte tag (60 bytes).
public struct WrappedDataKey: Sendable, Hashable, Codable {
    /// The id of the wrapped data key.
    public let dataKeyID: UUID
    /// The ``KeyEncryptionKey/id`` of the key that wrapped it.
    public let kekID: String
    /// Nonce ‖ encrypted key ‖ tag.
    public let wrapped: [UInt8]

    /// Creates a wrapped key from its stored parts (for example, a database row).
    public init(dataKeyID: UUID, kekID: String, wrapped: [UInt8]) {
        self.dataKeyID = dataKeyID
        self.kekID = kekID
        self.wrapped = wrapped
    }

    /// Decrypts the data key with the key in `ring` whose id is ``kekID``.
    ///
    /// - Throws: `unknown_key_encryption_key` when the ring has no key with that id;
    ///   `decryption_failed` when the blob, its data key id or its KEK id were
    ///   tampered with.
    public func unwrap(using ring: KeyRing) throws(CryptoError) -> DataKey {
        guard let kek = ring.key(id: kekID) else {
            throw .unknownKeyEncryptionKey(id: kekID)
        }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped)
            plaintext = try AES.GCM.open(
                box, using: kek.key, authenticating: DataKey.associatedData(for: dataKeyID)
            )
        } catch {
            throw .decryptionFailed
        }
        guard let key = DataKey(id: dataKeyID, keyBytes: Array(plaintext)) else {
            throw .decryptionFailed
        }
        return key
    }

    /// Unwraps with `ring` and wraps again with its current key: the rotation step.
    ///
    /// - Throws: the errors of ``unwrap(using:)``.
    public func rewrap(using ring: KeyRing) throws(CryptoError) -> WrappedDataKey {
        try unwrap(using: ring).wrap(with: ring.current)
    }
}
