import Crypto
import CryptoExtras
import Foundation

/// The key Airlock signs its Security Event Tokens with as a Shared Signals transmitter: RSA of at least 2048 bits,
/// RS256, as the SSF interoperability profile requires. Its `kid` is the RFC 7638 thumbprint of the public key, so
/// receivers can tell keys apart across a rotation; its public half is served at the transmitter's `jwks_uri`.
public struct SecurityEventSigner: Sendable {
    private let privateKey: _RSA.Signing.PrivateKey
    /// The key id: base64url of the SHA-256 of the public key's canonical JWK (RFC 7638).
    public let keyID: String
    /// The public key as a JWK (`kty`, `n`, `e`, `kid`, `alg`, `use`).
    public let publicJWK: JSONValue

    /// The smallest key accepted, in bits.
    public static let minimumBits = 2048

    /// A signer with the RSA private key in `pem` (PKCS#1 or PKCS#8).
    public init(pem: String) throws(SecurityEventSignerError) {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw SecurityEventSignerError("the file holds no RSA private key in PEM form")
        }
        try self.init(key)
    }

    /// A signer with a new random 2048-bit key (`airlock dev`, tests).
    public static func generate() throws(SecurityEventSignerError) -> SecurityEventSigner {
        do {
            return try SecurityEventSigner(_RSA.Signing.PrivateKey(keySize: .bits2048))
        } catch let error as SecurityEventSignerError {
            throw error
        } catch {
            throw SecurityEventSignerError("cannot generate an RSA key")
        }
    }

    private init(_ key: _RSA.Signing.PrivateKey) throws(SecurityEventSignerError) {
        guard key.keySizeInBits >= Self.minimumBits else {
            throw SecurityEventSignerError(
                "the RSA key has \(key.keySizeInBits) bits; Shared Signals needs at least \(Self.minimumBits)")
        }
        let primitives: _RSA.Signing.PublicKey.Primitives
        do {
            primitives = try key.publicKey.getKeyPrimitives()
        } catch {
            throw SecurityEventSignerError("cannot read the RSA key's public part")
        }
        let n = Base64URL.encode(Array(primitives.modulus))
        let e = Base64URL.encode(Array(primitives.publicExponent))
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let thumbprint = SHA256.hash(data: Data(#"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#.utf8))
        keyID = Base64URL.encode(Array(thumbprint))
        publicJWK = .object([
            "kty": "RSA", "n": .string(n), "e": .string(e), "kid": .string(keyID), "alg": "RS256", "use": "sig",
        ])
        privateKey = key
    }

    /// `claims` as a compact JWS: header `{"alg": "RS256", "kid", "typ": "secevent+jwt"}`, RS256 signature.
    public func sign(_ claims: JSONValue) throws -> String {
        let header: JSONValue = ["alg": "RS256", "kid": .string(keyID), "typ": "secevent+jwt"]
        let input = Base64URL.encode(header.canonicalBytes()) + "." + Base64URL.encode(claims.canonicalBytes())
        let signature = try privateKey.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(Array(signature.rawRepresentation))
    }
}

/// Why a transmitter key cannot be used: one line, never the key.
public struct SecurityEventSignerError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension SecurityEventSigner: CustomStringConvertible, CustomReflectable {
    /// The key by its id: never the private key.
    public var description: String { "RS256 key \(keyID)" }

    /// Only the key id, so `dump` cannot reach the private key.
    public var customMirror: Mirror { Mirror(self, children: ["keyID": keyID], displayStyle: .struct) }
}
