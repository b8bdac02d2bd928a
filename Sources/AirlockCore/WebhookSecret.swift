import Crypto
import Foundation

/// A Standard Webhooks HMAC signing secret: `whsec_` + standard base64 of 24 to 64 random bytes.
///
/// The HMAC-SHA256 key is ``bytes``, the base64-decoded part of the text (the prefix is not part of the key).
/// Printing a secret (`description`, `debugDescription`, string interpolation, `dump`) shows only
/// `whsec_…(redacted)`; the key is reachable only through ``bytes`` and ``text``. Two secrets compare equal in
/// constant time.
///
/// This file also holds the other key types of Standard Webhooks signing (``WebhookSigningKeyPair``,
/// ``WebhookPublicKey``) and their one error type, ``WebhookKeyError``: they share the text format and its parser.
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The prefix of the text form, which lets people and secret scanners recognise the secret.
    public static let prefix = "whsec_"
    /// The allowed key lengths in bytes: at least 192 bits, as the specification asks, and at most 512.
    public static let byteCountRange = 24...64

    /// The HMAC-SHA256 key.
    public let bytes: [UInt8]

    /// A new secret of `byteCount` bytes from the system CSPRNG (``SecureRandom``).
    ///
    /// - Precondition: `byteCount` is in ``byteCountRange``; any other length is a programming error.
    public static func generate(byteCount: Int = 32) -> WebhookSecret {
        precondition(byteCountRange.contains(byteCount), "a webhook secret must be 24 to 64 bytes")
        return WebhookSecret(checkedBytes: SecureRandom.bytes(byteCount))
    }

    /// Parses the text form `whsec_<standard base64>`.
    ///
    /// The base64 must be canonical (padded, standard alphabet, no whitespace, unused trailing bits zero), so one
    /// secret has exactly one text form, and must decode to 24 to 64 bytes.
    /// - Throws: ``WebhookKeyError``, whose message never quotes `text`.
    public init(parsing text: String) throws(WebhookKeyError) {
        try self.init(bytes: WebhookKeyText.decode(text, prefix: Self.prefix, what: "webhook secret"))
    }

    /// A secret holding `bytes`, which must number 24 to 64.
    /// - Throws: ``WebhookKeyError`` naming the length (never the bytes) when it is out of range.
    public init(bytes: [UInt8]) throws(WebhookKeyError) {
        guard Self.byteCountRange.contains(bytes.count) else {
            throw WebhookKeyError(
                "webhook secret must be \(Self.byteCountRange.lowerBound) to \(Self.byteCountRange.upperBound) "
                    + "bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    private init(checkedBytes: [UInt8]) {
        self.bytes = checkedBytes
    }

    /// The text form `whsec_…`: the secret itself. Use it only to show a new secret once to an admin; never log it.
    public var text: String {
        Self.prefix + WebhookKeyText.encode(bytes)
    }

    /// Whether two secrets hold the same bytes, compared in constant time.
    public static func == (lhs: WebhookSecret, rhs: WebhookSecret) -> Bool {
        ConstantTime.equals(lhs.bytes, rhs.bytes)
    }

    /// `whsec_…(redacted)`: never the key.
    public var description: String {
        Self.prefix + "…(redacted)"
    }

    /// The same as ``description``: never the key.
    public var debugDescription: String {
        description
    }
}

extension WebhookSecret: CustomReflectable {
    /// A mirror that exposes only the key's length, so `dump` cannot reveal the key.
    public var customMirror: Mirror {
        Mirror(self, children: ["byteCount": bytes.count], displayStyle: .struct)
    }
}

/// An Ed25519 signing key for Standard Webhooks `v1a` signatures.
///
/// Its private text form is `whsk_` + standard base64 of the 32-byte raw seed; its public key's is `whpk_` +
/// standard base64 of the 32-byte raw public key (see ``WebhookPublicKey``). Printing a key pair shows only its
/// public key; the seed is reachable only through ``privateKeyBytes`` and ``privateKeyText``.
public struct WebhookSigningKeyPair: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The prefix of the private key's text form.
    public static let privatePrefix = "whsk_"
    /// The length of the raw private key (the Ed25519 seed).
    public static let privateKeyByteCount = 32

    /// The Ed25519 private key.
    let privateKey: Curve25519.Signing.PrivateKey

    /// A new key pair from the system CSPRNG.
    public static func generate() -> WebhookSigningKeyPair {
        WebhookSigningKeyPair(privateKey: Curve25519.Signing.PrivateKey())
    }

    /// The key pair whose private key is the 32-byte raw seed `privateKeyBytes` (as ``privateKeyBytes`` gives it).
    /// - Throws: ``WebhookKeyError`` naming the length (never the bytes) when it is not 32.
    public init(privateKeyBytes: [UInt8]) throws(WebhookKeyError) {
        guard privateKeyBytes.count == Self.privateKeyByteCount,
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes)
        else {
            throw WebhookKeyError(
                "webhook signing key must be \(Self.privateKeyByteCount) bytes, not \(privateKeyBytes.count)")
        }
        self.privateKey = key
    }

    /// Parses the private text form `whsk_<standard base64 of the 32-byte seed>` (canonical base64, as
    /// ``WebhookSecret/init(parsing:)`` requires).
    /// - Throws: ``WebhookKeyError``, whose message never quotes `text`.
    public init(parsing text: String) throws(WebhookKeyError) {
        try self.init(
            privateKeyBytes: WebhookKeyText.decode(text, prefix: Self.privatePrefix, what: "webhook signing key"))
    }

    private init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
    }

    /// The raw 32-byte seed, for sealing at rest. Never log it.
    public var privateKeyBytes: [UInt8] {
        Array(privateKey.rawRepresentation)
    }

    /// The private text form `whsk_…`: the secret itself. Use it only to show a new key once to an admin.
    public var privateKeyText: String {
        Self.privatePrefix + WebhookKeyText.encode(privateKeyBytes)
    }

    /// The public key, which receivers verify `v1a` signatures with.
    public var publicKey: WebhookPublicKey {
        WebhookPublicKey(key: privateKey.publicKey)
    }

    /// The public key's text form `whpk_…`, safe to show and publish.
    public var publicKeyText: String {
        publicKey.text
    }

    /// The raw 32-byte public key.
    public var publicKeyBytes: [UInt8] {
        publicKey.bytes
    }

    /// `whsk_…(redacted)` and the public key: never the private key.
    public var description: String {
        Self.privatePrefix + "…(redacted) for " + publicKeyText
    }

    /// The same as ``description``: never the private key.
    public var debugDescription: String {
        description
    }
}

extension WebhookSigningKeyPair: CustomReflectable {
    /// A mirror that exposes only the public key, so `dump` cannot reveal the private key.
    public var customMirror: Mirror {
        Mirror(self, children: ["publicKey": publicKeyText], displayStyle: .struct)
    }
}

/// An Ed25519 public key that verifies Standard Webhooks `v1a` signatures: `whpk_` + standard base64 of the
/// 32-byte raw public key. Not a secret.
public struct WebhookPublicKey: Sendable, Equatable, CustomStringConvertible {
    /// The prefix of the text form.
    public static let prefix = "whpk_"
    /// The length of a raw Ed25519 public key.
    public static let byteCount = 32

    /// The Ed25519 public key.
    let key: Curve25519.Signing.PublicKey
    /// The raw 32-byte public key.
    public let bytes: [UInt8]

    /// Parses the text form `whpk_<standard base64 of 32 bytes>` (canonical base64).
    /// - Throws: ``WebhookKeyError``, whose message never quotes `text`.
    public init(parsing text: String) throws(WebhookKeyError) {
        try self.init(bytes: WebhookKeyText.decode(text, prefix: Self.prefix, what: "webhook public key"))
    }

    /// The public key whose raw form is `bytes`.
    /// - Throws: ``WebhookKeyError`` naming the length when it is not 32.
    public init(bytes: [UInt8]) throws(WebhookKeyError) {
        guard bytes.count == Self.byteCount,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
        else {
            throw WebhookKeyError("webhook public key must be \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.init(key: key)
    }

    init(key: Curve25519.Signing.PublicKey) {
        self.key = key
        self.bytes = Array(key.rawRepresentation)
    }

    /// The text form `whpk_…`.
    public var text: String {
        Self.prefix + WebhookKeyText.encode(bytes)
    }

    /// The text form, ``text``: a public key is not a secret.
    public var description: String {
        text
    }

    /// Whether two public keys hold the same bytes.
    public static func == (lhs: WebhookPublicKey, rhs: WebhookPublicKey) -> Bool {
        lhs.bytes == rhs.bytes
    }
}

/// A webhook secret or key that cannot be parsed or built. The message is one lowercase line that never contains
/// the text or bytes given, only what was wrong with them.
public struct WebhookKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong, without the secret.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String {
        message
    }
}

/// The text form shared by `whsec_`, `whsk_` and `whpk_`: a prefix, then canonical standard base64 (RFC 4648 §4).
enum WebhookKeyText {
    /// Standard base64 with padding.
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// The bytes after `prefix` in `text`, which must be canonical standard base64; `what` names the key in errors.
    static func decode(_ text: String, prefix: String, what: String) throws(WebhookKeyError) -> [UInt8] {
        guard text.hasPrefix(prefix) else {
            throw WebhookKeyError("\(what) must start with `\(prefix)`")
        }
        let encoded = String(text.dropFirst(prefix.count))
        guard let data = Data(base64Encoded: encoded), data.base64EncodedString() == encoded else {
            throw WebhookKeyError("\(what) is not standard padded base64 after `\(prefix)`")
        }
        return Array(data)
    }
}
