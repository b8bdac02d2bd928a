import AirlockCore
import Foundation
import JWTKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `airlock dev`'s own token issuer: an ES256 key pair made at start, whose public half is served at
/// `/v1/dev/jwks.json` and trusted as two issuers, `airlock-dev` (people) and `airlock-dev-workload`
/// (services). `airlock login --dev` signs with the private half, read from the file ``save(to:)`` wrote.
/// `airlock serve` never runs it.
public struct DevIssuer: Sendable {
    /// The `iss` of tokens for people.
    public static let issuer = "airlock-dev"
    /// The `iss` of service (workload) tokens.
    public static let workloadIssuer = "airlock-dev-workload"
    /// The `aud` of every dev token.
    public static let audience = "airlock"

    /// The key's id, in every token's header and in the JWKS.
    public let kid: String
    /// The public key set, as served at `/v1/dev/jwks.json`.
    public let jwksJSON: String
    private let privateKey: ES256PrivateKey
    private let clock: any WallClock

    /// A new issuer with a fresh key pair (and a random `kid` unless one is given).
    public init(kid: String? = nil, clock: any WallClock = SystemWallClock()) throws {
        try self.init(privateKey: ES256PrivateKey(), kid: kid ?? "dev-" + SecureRandom.base62(12), clock: clock)
    }

    private init(privateKey: ES256PrivateKey, kid: String, clock: any WallClock) throws {
        guard let parameters = privateKey.publicKey.parameters else {
            throw DevIssuerError("cannot read the dev issuer's public key")
        }
        let key: [String: String] = [
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": parameters.x, "y": parameters.y,
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.jwksJSON = String(decoding: try encoder.encode(["keys": [key]]), as: UTF8.self)
        self.kid = kid
        self.privateKey = privateKey
        self.clock = clock
    }

    /// The two issuers to trust in dev mode, both with this key set.
    public var issuerConfigurations: [IssuerConfiguration] {
        [
            IssuerConfiguration(issuer: Self.issuer, audiences: [Self.audience], jwks: .document(jwksJSON)),
            IssuerConfiguration(
                issuer: Self.workloadIssuer, audiences: [Self.audience], jwks: .document(jwksJSON), workload: true),
        ]
    }

    /// The principal id a token from ``issueToken(user:groups:mfa:onCall:service:email:manager:ttl:)``
    /// authenticates as in `airlock dev`, where the dev issuer for people is the primary issuer: `user` itself, or
    /// `airlock-dev-workload#user` for a service (see ``PrincipalMapping``). The token's `manager` maps the same way.
    public static func principalID(user: String, service: Bool) -> String {
        service ? workloadIssuer + "#" + user : user
    }

    /// A signed token for `user`: issuer `airlock-dev` (or `airlock-dev-workload` with `service`), audience
    /// `airlock`, valid for `ttl` seconds; with `mfa`, `amr: ["mfa"]` and `auth_time` now; with `manager`, that
    /// claim (the manager's user name, which becomes `principal.manager`); with `nonce`, that claim (an ID token for
    /// the console's sign-in).
    public func issueToken(
        user: String, groups: [String] = [], mfa: Bool = false, onCall: Bool = false, service: Bool = false,
        email: String? = nil, manager: String? = nil, ttl: TimeInterval = 8 * 3600, nonce: String? = nil
    ) async throws -> String {
        let now = clock.now().timeIntervalSince1970.rounded(.down)
        let claims = TokenClaims(
            issuer: service ? Self.workloadIssuer : Self.issuer, subject: user, audiences: [Self.audience],
            expiresAt: now + ttl, notBefore: now, issuedAt: now, authTime: mfa ? now : nil,
            authenticationMethods: mfa ? ["mfa"] : [], groups: groups, email: email, onCall: onCall,
            manager: manager, nonce: nonce)
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: privateKey, kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    private struct StoredKey: Codable {
        let kid: String
        let privateKeyPEM: String

        enum CodingKeys: String, CodingKey {
            case kid, privateKeyPEM = "private_key_pem"
        }
    }

    /// Writes the private key and `kid` as JSON to `path`, readable by the owner only (mode 0600, created that
    /// way, then renamed into place).
    public func save(to path: String) throws {
        let data = try JSONEncoder().encode(StoredKey(kid: kid, privateKeyPEM: privateKey.pemRepresentation))
        let temporary = path + ".tmp-" + SecureRandom.base62(8)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DevIssuerError("cannot create `\(temporary)`") }
        let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw DevIssuerError("cannot write the dev issuer key to `\(path)`")
        }
    }

    /// Reads an issuer ``save(to:)`` wrote; refuses a file that others may read or another user owns
    /// (``SecretFile``).
    public static func load(from path: String, clock: any WallClock = SystemWallClock()) throws -> DevIssuer {
        let bytes: [UInt8]
        do throws(SecretFileError) {
            bytes = try SecretFile.read(path)
        } catch where error.code == SecretFileError.unreadableCode {
            throw DevIssuerError("cannot read the dev issuer key `\(path)`")
        } catch {
            throw DevIssuerError("the dev issuer key: \(error.message)")
        }
        let stored: StoredKey
        do {
            stored = try JSONDecoder().decode(StoredKey.self, from: Data(bytes))
        } catch {
            throw DevIssuerError("the dev issuer key `\(path)` is not valid")
        }
        return try DevIssuer(privateKey: ES256PrivateKey(pem: stored.privateKeyPEM), kid: stored.kid, clock: clock)
    }
}

/// A problem with the dev issuer's key file.
public struct DevIssuerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one line.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
