import Crypto
import Foundation

/// The secret key of a keyed audit chain: with it, each event's `hash` is HMAC-SHA-256 under the key instead of
/// SHA-256, so someone who can write the database but does not hold the key cannot recompute the chain after
/// altering, removing or inserting an event.
///
/// It lives in a file outside the database (`audit.chain_key_file`, made by `airlock audit keygen --chain`), one
/// canonical JSON object:
///
/// ```
/// {"format":"airlock-audit-chain-key/v1","key":"<base64 of 32 random bytes>"}
/// ```
///
/// Each chained event records the ``keyID`` of the key that hashed it (never the key), so a verifier knows which
/// key to use and that the event is keyed at all. Printing the key shows only its id.
public struct AuditChainKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The `format` member of a key file.
    public static let format = "airlock-audit-chain-key/v1"
    /// The key's length in bytes.
    public static let byteCount = 32

    private let key: SymmetricKey
    /// 16 lowercase hex characters naming the key: the start of SHA-256("airlock-audit-chain-key" || key).
    /// Reveals nothing of the key (it is 256 random bits).
    public let keyID: String

    /// A new key from the system's secure random number generator.
    public static func generate() -> AuditChainKey {
        var generator = SystemRandomNumberGenerator()
        return AuditChainKey(bytes: (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    private init(bytes: [UInt8]) {
        self.key = SymmetricKey(data: bytes)
        self.keyID = String(Digest.sha256Hex(Array("airlock-audit-chain-key".utf8), bytes).prefix(16))
    }

    /// Parses a key file's content (surrounding whitespace ignored): exactly `format` and `key`, the key standard
    /// base64 of 32 bytes.
    /// - Throws: `invalid_chain_key`; the message never quotes the content.
    public init(fileContents: String) throws(AuditCheckpointError) {
        guard let value = try? JSONValue.parse(fileContents.trimmingCharacters(in: .whitespacesAndNewlines)),
              let object = value.objectValue
        else {
            throw .invalidChainKey("not a chain key file (one JSON object from `airlock audit keygen --chain`)")
        }
        guard object["format"]?.stringValue == Self.format else {
            throw .invalidChainKey("`format` must be `\(Self.format)`")
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "format" && $0 != "key" }) {
            throw .invalidChainKey("unknown member `\(unknown)`")
        }
        guard let text = object["key"]?.stringValue, let bytes = Base64Strict.decode(text), bytes.count == Self.byteCount
        else {
            throw .invalidChainKey("`key` must be standard base64 of \(Self.byteCount) bytes")
        }
        self.init(bytes: bytes)
    }

    /// Reads the key file at `path`, which must be private to this user (``SecretFile``).
    /// - Throws: ``SecretFile``'s codes (`secret_file_exposed`, …) or `invalid_chain_key` naming `path`, never
    ///   the content.
    public static func load(fromFile path: String) throws(AuditCheckpointError) -> AuditChainKey {
        try AuditCheckpointError.readKeyFile(path, named: "chain key file", invalid: AuditCheckpointError.invalidChainKey) {
            content throws(AuditCheckpointError) in try AuditChainKey(fileContents: content)
        }
    }

    /// The secret key file content (canonical JSON and a newline). Only for writing the key file; never log it.
    public var fileContents: String {
        let bytes = key.withUnsafeBytes { Array($0) }
        return JSONValue.object([
            "format": .string(Self.format), "key": .string(Base64Strict.encode(bytes)),
        ]).canonicalString() + "\n"
    }

    /// HMAC-SHA-256 of `parts` under the key, in lowercase hex.
    func authenticationCode(_ parts: [UInt8]...) -> String {
        var mac = HMAC<SHA256>(key: key)
        for part in parts { mac.update(data: part) }
        return Digest.hex(mac.finalize())
    }

    /// The key id only, never key bytes.
    public var description: String { "AuditChainKey(\(keyID))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["keyID": keyID]) }
}

extension AuditCheckpointError {
    /// Reads the private key file at `path` (``SecretFile``: one its group or others may read is refused) and parses
    /// it with `parse`. A parse failure becomes `invalid("<named> `path`: why")`; the content is never quoted.
    static func readKeyFile<Key>(
        _ path: String, named: String, invalid: (String) -> AuditCheckpointError,
        parse: (String) throws(AuditCheckpointError) -> Key
    ) throws(AuditCheckpointError) -> Key {
        let content: String
        do throws(SecretFileError) {
            content = try SecretFile.readText(path)
        } catch {
            throw AuditCheckpointError(code: error.code, message: error.message)
        }
        do {
            return try parse(content)
        } catch {
            throw invalid("\(named) `\(path)`: \(error.message)")
        }
    }

    /// `invalid_chain_key`: a chain key file not in Airlock's form.
    public static let invalidChainKeyCode = "invalid_chain_key"

    static func invalidChainKey(_ message: String) -> AuditCheckpointError {
        AuditCheckpointError(code: invalidChainKeyCode, message: message)
    }
}
