import AirlockCore
import Crypto
import CryptoExtras
import Foundation

/// A Shared Signals transmitter for tests: its own signing key (ES256, or RS256 with a 2048-bit key), its JWKS,
/// its authorization token, and Security Event Tokens signed with them, each built as a peer would build it.
public struct TestTransmitter: Sendable {
    public enum Key: Sendable {
        case es256(P256.Signing.PrivateKey)
        case rs256(_RSA.Signing.PrivateKey)
    }

    public let issuer: String
    public let kid: String
    public let key: Key
    /// What the transmitter sends as `Authorization: Bearer TOKEN` (64 hex digits from the system's CSPRNG).
    public let token: String

    public init(issuer: String = "https://idp.test", kid: String = "set-key-1", rsa: Bool = false) throws {
        self.issuer = issuer
        self.kid = kid
        key = rsa ? .rs256(try _RSA.Signing.PrivateKey(keySize: .bits2048)) : .es256(P256.Signing.PrivateKey())
        var generator = SystemRandomNumberGenerator()
        token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The algorithm its SETs are signed with.
    public var algorithm: String {
        switch key {
        case .es256: "ES256"
        case .rs256: "RS256"
        }
    }

    /// Its public JWKS.
    public func jwks() throws -> String {
        switch key {
        case .es256(let key):
            let raw = key.publicKey.rawRepresentation
            return #"{"keys":[{"kty":"EC","crv":"P-256","use":"sig","kid":"\#(kid)","x":"\#(Self.base64URL(raw.prefix(32)))","y":"\#(Self.base64URL(raw.suffix(32)))"}]}"#
        case .rs256(let key):
            let primitives = try key.publicKey.getKeyPrimitives()
            return #"{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"\#(kid)","n":"\#(Self.base64URL(primitives.modulus))","e":"\#(Self.base64URL(primitives.publicExponent))"}]}"#
        }
    }

    /// The claims of a SET about `subject` carrying one event of `type` (a URI), issued now (`iat` = `issuedAt`).
    public func claims(
        event type: String, payload: JSONValue = .object([:]), subject: JSONValue?, audience: String,
        jti: String = UUID().uuidString, issuedAt: Date = Date(), transaction: String? = nil
    ) -> JSONValue {
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .string(audience), "iat": .int(Int64(issuedAt.timeIntervalSince1970)),
            "jti": .string(jti), "events": .object([type: payload]),
        ]
        if let subject { claims["sub_id"] = subject }
        if let transaction { claims["txn"] = .string(transaction) }
        return .object(claims)
    }

    /// `claims` signed as a compact JWS with header `typ` (default `secevent+jwt`) and this key's `kid`.
    public func sign(_ claims: JSONValue, typ: String? = "secevent+jwt", kid: String? = nil) throws -> String {
        var header: [String: JSONValue] = ["alg": .string(algorithm), "kid": .string(kid ?? self.kid)]
        if let typ { header["typ"] = .string(typ) }
        let input = Self.base64URL(JSONValue.object(header).canonicalBytes()) + "."
            + Self.base64URL(claims.canonicalBytes())
        let signature: Data
        switch key {
        case .es256(let key): signature = try key.signature(for: Data(input.utf8)).rawRepresentation
        case .rs256(let key):
            signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        }
        return input + "." + Self.base64URL(signature)
    }

    /// `sub_id` of format `iss_sub`.
    public static func issuerSubject(_ issuer: String, _ subject: String) -> JSONValue {
        .object(["format": "iss_sub", "iss": .string(issuer), "sub": .string(subject)])
    }

    public static func base64URL(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension TestTransmitter {
    /// The claims of `set` when it is a compact JWS with header `typ: secevent+jwt`, `alg: RS256` and a `kid` of
    /// `jwks` (RSA keys) whose signature verifies; nil otherwise. A receiver's check, for tests of what Airlock sends.
    public static func verifiedClaims(of set: String, jwks: JSONValue) -> JSONValue? {
        let parts = set.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = decode(parts[0]).flatMap({ try? JSONValue.parse(Data($0)) }),
              header["typ"] == "secevent+jwt", header["alg"] == "RS256", let kid = header["kid"]?.stringValue,
              let key = jwks["keys"]?.arrayValue?.first(where: { $0["kid"]?.stringValue == kid }),
              let n = key["n"]?.stringValue.flatMap({ decode(Substring($0)) }),
              let e = key["e"]?.stringValue.flatMap({ decode(Substring($0)) }),
              let publicKey = try? _RSA.Signing.PublicKey(n: n, e: e),
              let signature = decode(parts[2]),
              publicKey.isValidSignature(
                  _RSA.Signing.RSASignature(rawRepresentation: signature), for: Data((parts[0] + "." + parts[1]).utf8),
                  padding: .insecurePKCS1v1_5)
        else { return nil }
        return decode(parts[1]).flatMap { try? JSONValue.parse(Data($0)) }
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
