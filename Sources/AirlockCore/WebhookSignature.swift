import Crypto
import Foundation

/// One key an endpoint signs with.
public enum WebhookSigningKey: Sendable {
    /// A shared secret: `v1` signatures (HMAC-SHA256).
    case hmac(WebhookSecret)
    /// An Ed25519 key pair: `v1a` signatures, which receivers verify with the public key.
    case ed25519(WebhookSigningKeyPair)
}

/// Standard Webhooks signatures: what goes in the `webhook-signature` header, and how a receiver checks it.
///
/// The signed content is `{webhook-id}.{webhook-timestamp}.{body}`. A signature is `v1,` + base64(HMAC-SHA256(key,
/// content)) for a ``WebhookSecret``, or `v1a,` + base64(Ed25519 signature of content) for a
/// ``WebhookSigningKeyPair``. The header lists one signature per key, space-separated, so that during a rotation
/// a receiver holding either the old or the new key accepts the message. Pure functions: no I/O and no clock other
/// than the `now` given to the verifiers.
public enum WebhookSignature {
    /// The default `tolerance`, in seconds, between a message's timestamp and the receiver's clock.
    public static let defaultTolerance: Int64 = 300

    /// `id.timestamp.body` bytes, as Standard Webhooks signs them.
    public static func signedContent(id: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        Array("\(id).\(timestamp).".utf8) + body
    }

    /// `v1,<base64 HMAC-SHA256>` or `v1a,<base64 Ed25519 signature>`.
    public static func sign(id: String, timestamp: Int64, body: [UInt8], with key: WebhookSigningKey) -> String {
        let content = signedContent(id: id, timestamp: timestamp, body: body)
        switch key {
        case .hmac(let secret):
            return "v1," + WebhookKeyText.encode(mac(content, secret: secret))
        case .ed25519(let keyPair):
            let signature: Data
            do {
                signature = try keyPair.privateKey.signature(for: content)
            } catch {
                // Invariant: Ed25519 signing with a well-formed key cannot fail (BoringSSL's ED25519_sign always
                // returns 1, and the key was validated when the pair was made). The error carries no key material.
                preconditionFailure("ed25519 signing failed: \(error)")
            }
            return "v1a," + WebhookKeyText.encode(Array(signature))
        }
    }

    /// The `webhook-signature` header: every key's signature, space-separated (a rotation window sends two).
    public static func header(id: String, timestamp: Int64, body: [UInt8], keys: [WebhookSigningKey]) -> String {
        keys.map { sign(id: id, timestamp: timestamp, body: body, with: $0) }.joined(separator: " ")
    }

    /// True when any `v1,` signature in `header` matches `secret` (the MAC bytes compared in constant time) and
    /// `timestamp` is within `tolerance` seconds of `now`, before or after (default 300; pass `nil` to skip the
    /// time check). Signatures of other versions and malformed entries are ignored.
    public static func verify(
        header: String, id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret,
        now: Date = Date(), tolerance: Int64? = defaultTolerance
    ) -> Bool {
        guard isTimely(timestamp, now: now, tolerance: tolerance) else { return false }
        let expected = mac(signedContent(id: id, timestamp: timestamp, body: body), secret: secret)
        return signatures(in: header, version: "v1").contains { ConstantTime.equals($0, expected) }
    }

    /// True when any `v1a,` signature in `header` is a valid Ed25519 signature by `publicKey` and `timestamp` is
    /// within `tolerance` seconds of `now`, before or after (default 300; pass `nil` to skip the time check).
    /// Signatures of other versions and malformed entries are ignored.
    public static func verify(
        header: String, id: String, timestamp: Int64, body: [UInt8], publicKey: WebhookPublicKey,
        now: Date = Date(), tolerance: Int64? = defaultTolerance
    ) -> Bool {
        guard isTimely(timestamp, now: now, tolerance: tolerance) else { return false }
        let content = signedContent(id: id, timestamp: timestamp, body: body)
        return signatures(in: header, version: "v1a").contains {
            publicKey.key.isValidSignature($0, for: content)
        }
    }

    /// HMAC-SHA256 of `content` under `secret`.
    private static func mac(_ content: [UInt8], secret: WebhookSecret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: secret.bytes)))
    }

    /// The decoded signatures of `version` in a space-separated header; entries of other versions, without a
    /// comma, or whose signature is not base64 are left out.
    private static func signatures(in header: String, version: String) -> [[UInt8]] {
        header.split(separator: " ").compactMap { entry in
            guard let comma = entry.firstIndex(of: ","), entry[..<comma] == version,
                  let decoded = Data(base64Encoded: String(entry[entry.index(after: comma)...]))
            else { return nil }
            return Array(decoded)
        }
    }

    /// Whether `timestamp` (Unix seconds) is at most `tolerance` seconds before or after `now`; always true when
    /// `tolerance` is `nil`, never when it is negative or the difference does not fit in 64 bits.
    private static func isTimely(_ timestamp: Int64, now: Date, tolerance: Int64?) -> Bool {
        guard let tolerance else { return true }
        guard tolerance >= 0, let nowSeconds = Int64(exactly: now.timeIntervalSince1970.rounded(.down)) else {
            return false
        }
        let (difference, overflow) = nowSeconds.subtractingReportingOverflow(timestamp)
        return !overflow && difference.magnitude <= UInt64(tolerance)
    }
}
