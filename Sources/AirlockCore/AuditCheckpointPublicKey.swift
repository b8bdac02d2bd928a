import Crypto
import Foundation

/// A signature algorithm of audit checkpoints. A checkpoint carries one signature of each, and verifies only when
/// both do: a forger must break both a classical and a post-quantum scheme.
public enum AuditCheckpointAlgorithm: String, Sendable, CaseIterable {
    /// Ed25519 (RFC 8032) over the signed message.
    case ed25519 = "ed25519"
    /// ML-DSA-65 (FIPS 204, empty context) over the signed message.
    case mlDSA65 = "ml-dsa-65"

    /// The prefix of this algorithm's key ids: `ed25519:` or `mldsa65:`.
    public var keyIDPrefix: String {
        switch self {
        case .ed25519: "ed25519:"
        case .mlDSA65: "mldsa65:"
        }
    }
}

/// A public key that verifies checkpoint signatures. Not a secret: brokers publish these at
/// `GET /.well-known/airlock-audit-keys`.
public struct AuditCheckpointPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// Which algorithm the key is for.
    public let algorithm: AuditCheckpointAlgorithm
    /// The raw public key: 32 bytes for Ed25519, the FIPS 204 encoding (1952 bytes) for ML-DSA-65.
    public let bytes: [UInt8]
    /// The algorithm's prefix and the first 16 hex digits of SHA-256 of ``bytes``, e.g. `ed25519:3f2a…`: derived
    /// from the key, so a key and its id cannot disagree.
    public let keyID: String

    /// The public key `bytes` for `algorithm`.
    /// - Throws: `invalid_checkpoint_keys` when the bytes are not a valid key of that algorithm.
    public init(algorithm: AuditCheckpointAlgorithm, bytes: [UInt8]) throws(AuditCheckpointError) {
        switch algorithm {
        case .ed25519:
            guard bytes.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)) != nil else {
                throw .invalidKeys("an ed25519 public key must be 32 bytes, not \(bytes.count)")
            }
        case .mlDSA65:
            guard (try? MLDSA65.PublicKey(rawRepresentation: bytes)) != nil else {
                throw .invalidKeys("not an ml-dsa-65 public key (\(bytes.count) bytes)")
            }
        }
        self.algorithm = algorithm
        self.bytes = bytes
        self.keyID = Self.keyID(algorithm: algorithm, bytes: bytes)
    }

    /// The key id of the public key `bytes`.
    public static func keyID(algorithm: AuditCheckpointAlgorithm, bytes: [UInt8]) -> String {
        algorithm.keyIDPrefix + String(Digest.sha256Hex(bytes).prefix(16))
    }

    /// Whether `signature` is this key's signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch algorithm {
        case .ed25519:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return false }
            return key.isValidSignature(signature, for: message)
        case .mlDSA65:
            guard let key = try? MLDSA65.PublicKey(rawRepresentation: bytes) else { return false }
            return key.isValidSignature(signature, for: message)
        }
    }

    /// `{"alg", "key_id", "public_key"}` (standard base64 of the raw key): one entry of the well-known key set.
    public var json: JSONValue {
        .object([
            "alg": .string(algorithm.rawValue),
            "key_id": .string(keyID),
            "public_key": .string(Data(bytes).base64EncodedString()),
        ])
    }

    /// The key id.
    public var description: String { keyID }
}

/// The public keys a checkpoint is verified against: what `GET /.well-known/airlock-audit-keys` answers,
/// `{"keys": [{"alg", "key_id", "public_key"}, …]}`. Several keys of one algorithm may be trusted (the keys of
/// earlier key files, while old checkpoints are still checked).
public struct AuditCheckpointKeySet: Sendable, Hashable {
    /// The trusted keys, in the order given.
    public let keys: [AuditCheckpointPublicKey]

    /// A set of `keys`.
    public init(_ keys: [AuditCheckpointPublicKey]) {
        self.keys = keys
    }

    /// The key with `keyID` for `algorithm`, if trusted.
    public func key(_ algorithm: AuditCheckpointAlgorithm, id keyID: String) -> AuditCheckpointPublicKey? {
        keys.first { $0.algorithm == algorithm && $0.keyID == keyID }
    }

    /// `{"keys": [...]}`.
    public var json: JSONValue {
        .object(["keys": .array(keys.map(\.json))])
    }

    /// Parses the well-known form. Every entry needs `alg` (`ed25519` or `ml-dsa-65`), `public_key` (standard
    /// base64 of the raw key) and `key_id`, which must be the id derived from that key (a set whose ids do not match
    /// its keys is refused rather than trusted under either).
    /// - Throws: `invalid_checkpoint_keys`.
    public init(json: JSONValue) throws(AuditCheckpointError) {
        guard let entries = json["keys"]?.arrayValue else {
            throw .invalidKeys("expected {\"keys\": [{\"alg\", \"key_id\", \"public_key\"}, ...]}")
        }
        var keys: [AuditCheckpointPublicKey] = []
        for (index, entry) in entries.enumerated() {
            guard let name = entry["alg"]?.stringValue, let algorithm = AuditCheckpointAlgorithm(rawValue: name) else {
                throw .invalidKeys("key \(index + 1): `alg` must be `ed25519` or `ml-dsa-65`")
            }
            guard let text = entry["public_key"]?.stringValue, let bytes = Base64Strict.decode(text) else {
                throw .invalidKeys("key \(index + 1): `public_key` must be standard base64")
            }
            let key = try AuditCheckpointPublicKey(algorithm: algorithm, bytes: bytes)
            guard entry["key_id"]?.stringValue == key.keyID else {
                throw .invalidKeys("key \(index + 1): `key_id` is not the id of its public key (expected `\(key.keyID)`)")
            }
            keys.append(key)
        }
        self.keys = keys
    }
}

/// Standard base64 with padding (RFC 4648 §4), strict: the text must be exactly what encoding its bytes gives.
enum Base64Strict {
    static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        return Array(data)
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
