import Crypto
import Foundation

/// A key-encryption key (KEK): the 256-bit AES key, held outside the database,
/// that wraps every ``DataKey``.
///
/// Its text form is `akek1_` followed by the unpadded base64url encoding of the
/// 32 key bytes (49 characters in all). Its ``id`` is derived from the key bytes,
/// so a key and its id can never disagree.
///
/// Printing a KEK (`description`, `debugDescription`, `dump`) shows only its id;
/// the key bytes are reachable only through ``text``.
public struct KeyEncryptionKey: Sendable, Hashable {
    /// The prefix of the text form, which names the format version.
    public static let textPrefix = "akek1_"
    /// The number of key bytes.
    public static let byteCount = 32
    /// The length of the base64url part of the text form (32 bytes, unpadded).
    static let encodedLength = 43

    /// `kek_` followed by the first 16 hex digits of SHA-256(`airlock kek id v1` ‖ key bytes).
    public let id: String
    /// The AES-256 key.
    let key: SymmetricKey

    /// Creates a KEK from exactly ``byteCount`` key bytes; any other length is rejected.
    init(keyBytes: [UInt8]) throws(CryptoError) {
        guard keyBytes.count == Self.byteCount else {
            throw .invalidKeyText("the key must be \(Self.byteCount) bytes")
        }
        self.key = SymmetricKey(data: keyBytes)
        self.id = Self.deriveID(keyBytes)
    }

    private init(key: SymmetricKey) {
        self.key = key
        self.id = key.withUnsafeBytes { Self.deriveID(Array($0)) }
    }

    /// A new KEK of 32 bytes from the system's secure random number generator.
    public static func generate() -> KeyEncryptionKey {
        KeyEncryptionKey(key: SymmetricKey(size: .bits256))
    }

    /// Parses the text form `akek1_<43 base64url characters>`.
    ///
    /// The encoding must be exact (no padding, no whitespace, no `+` or `/`, unused
    /// trailing bits zero), so one key has exactly one text form.
    /// - Throws: `invalid_key_encryption_key`; the error never quotes `text`.
    public init(text: String) throws(CryptoError) {
        guard text.hasPrefix(Self.textPrefix) else {
            throw .invalidKeyText("the text must start with `\(Self.textPrefix)`")
        }
        let encoded = text.utf8.dropFirst(Self.textPrefix.utf8.count)
        guard encoded.count == Self.encodedLength else {
            throw .invalidKeyText(
                "`\(Self.textPrefix)` must be followed by exactly \(Self.encodedLength) base64url characters"
            )
        }
        guard let bytes = Base64URL.decode(encoded), bytes.count == Self.byteCount,
              Base64URL.encode(bytes).utf8.elementsEqual(encoded)
        else {
            throw .invalidKeyText("the text is not unpadded base64url of \(Self.byteCount) bytes")
        }
        try self.init(keyBytes: bytes)
    }

    /// Reads a KEK's text form from the file at `path`, ignoring surrounding whitespace. The file must be
    /// private to this user, as ``SecretFile`` checks.
    ///
    /// - Throws: `key_file_unreadable` naming `path` when the file cannot be read; ``SecretFile``'s codes
    ///   (`secret_file_exposed`, `secret_file_foreign_owner`, …) with the fix when others may read it or another
    ///   user owns it; `invalid_key_encryption_key` naming `path` (never the content) when it does not hold a
    ///   valid key.
    public static func load(fromFile path: String) throws(CryptoError) -> KeyEncryptionKey {
        let content: String
        do throws(SecretFileError) {
            content = try SecretFile.readText(path)
        } catch where error.code == SecretFileError.unreadableCode {
            throw .keyFileUnreadable(path: path)
        } catch {
            throw CryptoError(code: error.code, message: error.message)
        }
        do {
            return try KeyEncryptionKey(text: content.trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw CryptoError(code: error.code, message: "key file `\(path)`: \(error.message)")
        }
    }

    /// The secret text form `akek1_…`. Use only to hand a newly generated key to
    /// an operator (`airlock keys generate`); never log it.
    public var text: String {
        key.withUnsafeBytes { Self.textPrefix + Base64URL.encode(Array($0)) }
    }

    /// Whether two KEKs hold the same key bytes (compared in constant time).
    public static func == (lhs: KeyEncryptionKey, rhs: KeyEncryptionKey) -> Bool {
        lhs.key == rhs.key
    }

    /// Hashes the id only, which is derived from (and so consistent with) the key bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
    }

    private static func deriveID(_ keyBytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(data: Array("airlock kek id v1".utf8))
        hash.update(data: keyBytes)
        let hex = hash.finalize().prefix(8).map { byte in
            let text = String(byte, radix: 16)
            return byte < 0x10 ? "0" + text : text
        }
        return "kek_" + hex.joined()
    }
}

extension KeyEncryptionKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `KeyEncryptionKey(kek_…)`: the id only, never key bytes.
    public var description: String {
        "KeyEncryptionKey(\(id))"
    }

    /// The same as ``description``: the id only, never key bytes.
    public var debugDescription: String {
        description
    }

    /// A mirror that exposes only the id, so `dump` cannot reveal key bytes.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id], displayStyle: .struct)
    }
}

/// Unpadded base64url (RFC 4648 §5), strict.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group: UInt32 = 0
            for (offset, byte) in chunk.enumerated() {
                group |= UInt32(byte) << (16 - 8 * offset)
            }
            for position in 0...chunk.count {
                output.append(alphabet[Int((group >> (18 - 6 * position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes unpadded base64url; `nil` on any character outside the alphabet or an impossible length.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        return output
    }
}
