import Foundation
import JWTKit

/// The claims Airlock reads from a JWT. Decoding is lenient where issuers differ (`aud` and `groups` as a string
/// or an array, times as integers or fractions) and strict where a wrong type means a wrong token.
///
/// Time claims are checked by ``JWTVerifier`` with its injected clock and skew, not by ``verify(using:)``.
public struct TokenClaims: JWTPayload, Equatable {
    /// `iss`.
    public var issuer: String?
    /// `sub`.
    public var subject: String?
    /// `aud`, always as a list.
    public var audiences: [String]
    /// `exp`, Unix seconds.
    public var expiresAt: Double?
    /// `nbf`, Unix seconds.
    public var notBefore: Double?
    /// `iat`, Unix seconds.
    public var issuedAt: Double?
    /// `auth_time`, Unix seconds of the user's last authentication.
    public var authTime: Double?
    /// `amr`: how the user authenticated (`pwd`, `mfa`, `otp`, `hwk`, ...).
    public var authenticationMethods: [String]
    /// `groups`.
    public var groups: [String]
    /// `email`.
    public var email: String?
    /// `on_call`.
    public var onCall: Bool?
    /// `manager`: the subject of the principal's manager, in the token issuer's own subject space.
    public var manager: String?
    /// `nonce`: an ID token's answer to the sign-in that asked for it (OpenID Connect Core §3.1.2.1).
    public var nonce: String?

    /// Creates claims.
    public init(
        issuer: String? = nil, subject: String? = nil, audiences: [String] = [], expiresAt: Double? = nil,
        notBefore: Double? = nil, issuedAt: Double? = nil, authTime: Double? = nil,
        authenticationMethods: [String] = [], groups: [String] = [], email: String? = nil, onCall: Bool? = nil,
        manager: String? = nil, nonce: String? = nil
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuedAt = issuedAt
        self.authTime = authTime
        self.authenticationMethods = authenticationMethods
        self.groups = groups
        self.email = email
        self.onCall = onCall
        self.manager = manager
        self.nonce = nonce
    }

    enum CodingKeys: String, CodingKey {
        case issuer = "iss", subject = "sub", audiences = "aud", expiresAt = "exp", notBefore = "nbf"
        case issuedAt = "iat", authTime = "auth_time", authenticationMethods = "amr", groups, email
        case onCall = "on_call", manager, nonce
    }

    /// Decodes claims from a JWT payload object.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try container.decodeIfPresent(String.self, forKey: .issuer)
        subject = try container.decodeIfPresent(String.self, forKey: .subject)
        audiences = try Self.stringOrList(container, .audiences)
        expiresAt = try container.decodeIfPresent(Double.self, forKey: .expiresAt)
        notBefore = try container.decodeIfPresent(Double.self, forKey: .notBefore)
        issuedAt = try container.decodeIfPresent(Double.self, forKey: .issuedAt)
        authTime = try container.decodeIfPresent(Double.self, forKey: .authTime)
        authenticationMethods = try Self.stringOrList(container, .authenticationMethods)
        groups = try Self.stringOrList(container, .groups)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        onCall = try container.decodeIfPresent(Bool.self, forKey: .onCall)
        manager = try container.decodeIfPresent(String.self, forKey: .manager)
        nonce = try? container.decodeIfPresent(String.self, forKey: .nonce)
    }

    /// Encodes the claims (for the dev issuer); integral times as integers.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(issuer, forKey: .issuer)
        try container.encodeIfPresent(subject, forKey: .subject)
        if audiences.count == 1 {
            try container.encode(audiences[0], forKey: .audiences)
        } else if !audiences.isEmpty {
            try container.encode(audiences, forKey: .audiences)
        }
        try container.encodeIfPresent(expiresAt.map(Self.seconds), forKey: .expiresAt)
        try container.encodeIfPresent(notBefore.map(Self.seconds), forKey: .notBefore)
        try container.encodeIfPresent(issuedAt.map(Self.seconds), forKey: .issuedAt)
        try container.encodeIfPresent(authTime.map(Self.seconds), forKey: .authTime)
        if !authenticationMethods.isEmpty { try container.encode(authenticationMethods, forKey: .authenticationMethods) }
        if !groups.isEmpty { try container.encode(groups, forKey: .groups) }
        try container.encodeIfPresent(email, forKey: .email)
        try container.encodeIfPresent(onCall, forKey: .onCall)
        try container.encodeIfPresent(manager, forKey: .manager)
        try container.encodeIfPresent(nonce, forKey: .nonce)
    }

    /// Does nothing: ``JWTVerifier`` checks `exp`, `nbf`, `iat` and `aud` against its own clock and skew.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// Whole Unix seconds, clamped into a range `Int64` holds.
    private static func seconds(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        return Int64(min(max(value.rounded(.down), -1e15), 1e15))
    }

    private static func stringOrList(
        _ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys
    ) throws -> [String] {
        if let single = try? container.decodeIfPresent(String.self, forKey: key) { return [single] }
        return try container.decodeIfPresent([String].self, forKey: key) ?? []
    }
}

/// A JWT split into its parts, with header and claims decoded but nothing verified: only for routing the token
/// to its issuer's keys.
struct UnverifiedJWT: Sendable {
    /// The header's `alg`.
    let algorithm: String
    /// The header's `kid`, if any.
    let keyID: String?
    /// The header's `typ`, if any.
    let type: String?
    /// The payload's claims (unverified).
    let claims: TokenClaims

    private struct Header: Decodable {
        let alg: String
        let kid: String?
        let typ: String?
        let crit: [String]?
    }

    /// Splits and decodes `token`; `nil` when it is not a compact JWS with JSON header and payload. The signature
    /// may be empty (an `alg: none` token), which ``JWTVerifier`` then refuses as `unsupported_algorithm`.
    init?(_ token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
              let headerData = Self.base64URLDecode(parts[0]),
              let payloadData = Self.base64URLDecode(parts[1]),
              Self.base64URLDecode(parts[2]) != nil,
              let header = try? JSONDecoder().decode(Header.self, from: headerData),
              header.crit == nil,
              let claims = try? JSONDecoder().decode(TokenClaims.self, from: payloadData)
        else { return nil }
        self.algorithm = header.alg
        self.keyID = header.kid
        self.type = header.typ
        self.claims = claims
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        guard text.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x2D || byte == 0x5F
        }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
