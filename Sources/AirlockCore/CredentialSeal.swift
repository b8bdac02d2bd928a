import Crypto
import Foundation

/// A credential sealed to the key of the process that asked for it: HPKE (RFC 9180) in base mode with the X-Wing
/// hybrid KEM (ML-KEM-768 + X25519), HKDF-SHA256 and AES-256-GCM. Only the holder of the private key opens it: not a
/// TLS-terminating proxy, not a debug log of the response. The sealed bytes are bound to the lease they are for (the
/// associated data), so a sealed answer cannot be passed off as another lease's.
///
/// On the wire: the caller sends `Airlock-Seal-Suite: X-Wing-SHA256-AES256GCM` and `Airlock-Seal-Key:` its raw
/// public key in base64url; the answer carries `sealed: {suite, enc, ciphertext}` (base64url) in place of the secret.
public enum CredentialSeal {
    /// The request headers that ask for a sealed credential: the suite's name, and the caller's public key.
    public static let suiteHeader = "Airlock-Seal-Suite"
    public static let keyHeader = "Airlock-Seal-Key"

    /// The one suite offered, by the name the caller gives.
    public static let suite = "X-Wing-SHA256-AES256GCM"
    static let ciphersuite = HPKE.Ciphersuite.XWingMLKEM768X25519_SHA256_AES_GCM_256
    static let info = Data("airlock sealed credential v1".utf8)

    /// Why a seal could not be made or opened, in a user's words.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Code: String, Sendable {
            case unsupportedSuite = "unsupported_seal_suite", invalidKey = "invalid_seal_key", cannotOpen = "cannot_open_seal"
            /// The answer holds the secret in clear, or no lease: a broker that predates sealing, or something else.
            case notSealed = "not_sealed"
        }
        public let code: Code
        public let description: String
    }

    /// The caller's public key, from the suite name and the base64url key it sent.
    public static func recipient(suite name: String, publicKey text: String) throws(Failure) -> XWingMLKEM768X25519.PublicKey {
        guard name == suite else {
            throw Failure(code: .unsupportedSuite,
                          description: "seal suite `\(String(name.prefix(64)))` is not supported; the one supported is \(suite)")
        }
        guard text.utf8.count <= 4096, let raw = Base64URL.decode(text.utf8) else {
            throw Failure(code: .invalidKey, description: "the seal key is not base64url")
        }
        do {
            return try XWingMLKEM768X25519.PublicKey(rawRepresentation: Data(raw))
        } catch {
            throw Failure(code: .invalidKey, description: "the seal key is not an X-Wing public key (\(raw.count) bytes)")
        }
    }

    /// `plaintext` sealed to `recipient`, bound to `lease`.
    public static func seal(
        _ plaintext: Data, to recipient: XWingMLKEM768X25519.PublicKey, lease: UUID
    ) throws -> (encapsulatedKey: Data, ciphertext: Data) {
        var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: ciphersuite, info: info)
        let ciphertext = try sender.seal(plaintext, authenticating: associatedData(lease))
        return (sender.encapsulatedKey, ciphertext)
    }

    /// The plaintext of a seal made for `lease` to `privateKey`'s public key; any other key, lease or change to the
    /// bytes fails.
    public static func open(
        encapsulatedKey: Data, ciphertext: Data, with privateKey: XWingMLKEM768X25519.PrivateKey, lease: UUID
    ) throws(Failure) -> Data {
        do {
            var recipient = try HPKE.Recipient(
                privateKey: privateKey, ciphersuite: ciphersuite, info: info, encapsulatedKey: encapsulatedKey)
            return try recipient.open(ciphertext, authenticating: associatedData(lease))
        } catch {
            throw Failure(code: .cannotOpen, description: "the sealed credential cannot be opened with this key")
        }
    }

    /// A caller's side: a fresh key pair for one request (its private half never leaves the process), the headers
    /// that ask for the seal, and the opening of the answer.
    public struct Opener: Sendable {
        let privateKey: XWingMLKEM768X25519.PrivateKey

        public init() throws {
            privateKey = try XWingMLKEM768X25519.PrivateKey.generate()
        }

        /// `Airlock-Seal-Suite` and `Airlock-Seal-Key`.
        public var headers: [(name: String, value: String)] {
            [(suiteHeader, suite), (keyHeader, Base64URL.encode(Array(privateKey.publicKey.rawRepresentation)))]
        }

        /// The plaintext of a `sealed` answer `{suite, enc, ciphertext}` for `lease`.
        public func open(_ sealed: JSONValue, lease: UUID) throws(Failure) -> Data {
            guard sealed["suite"]?.stringValue == suite else {
                throw Failure(code: .unsupportedSuite, description: "the credential is sealed with another suite")
            }
            guard let encapsulatedKey = sealed["enc"]?.stringValue.flatMap({ Base64URL.decode($0.utf8) }),
                  let ciphertext = sealed["ciphertext"]?.stringValue.flatMap({ Base64URL.decode($0.utf8) })
            else { throw Failure(code: .cannotOpen, description: "the sealed credential is malformed") }
            return try CredentialSeal.open(
                encapsulatedKey: Data(encapsulatedKey), ciphertext: Data(ciphertext), with: privateKey, lease: lease)
        }

        /// The whole credential answer of a broker (`{kind, expires_at, lease_id, sealed}`), opened: the plaintext is
        /// the answer it would have given in clear, for the lease the answer names and no other.
        public func openAnswer(_ answer: JSONValue) throws(Failure) -> (plaintext: Data, json: JSONValue) {
            guard let sealed = answer["sealed"] else {
                throw Failure(code: .notSealed, description: "the broker did not seal the credential (it may predate sealed delivery)")
            }
            guard let lease = answer["lease_id"]?.stringValue.flatMap(UUID.init(uuidString:)) else {
                throw Failure(code: .notSealed, description: "the broker's sealed answer names no lease")
            }
            let plaintext = try open(sealed, lease: lease)
            guard let json = try? JSONValue.parse(plaintext), json["lease_id"] == answer["lease_id"] else {
                throw Failure(code: .cannotOpen, description: "the sealed credential is for another lease than the answer says")
            }
            return (plaintext, json)
        }
    }

    static func associatedData(_ lease: UUID) -> Data { Data("lease:\(lease.uuidString.lowercased())".utf8) }
}
