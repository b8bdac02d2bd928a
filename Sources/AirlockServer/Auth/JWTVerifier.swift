import AirlockCore
import Foundation
import JWTKit
import Logging

/// Verifies JWTs from the configured issuers and maps their claims to a ``Principal``.
///
/// The token is routed by its (unverified) `iss` to that issuer's own key set and by its `kid` to one key of
/// that set; the header's `alg` must be the key's algorithm. Only then is the signature checked, and only a
/// verified token's `typ` (the issuer's accepted types), `aud`, `exp`, `nbf` and `iat` are checked, against the
/// injected clock with the skew. The principal id is the bare `sub` for the primary human issuer and `ISSUER#sub`
/// for every other (``PrincipalMapping``); the `manager` claim names a subject of the same issuer and is mapped the
/// same way.
public struct JWTVerifier: Sendable {
    /// Authentication methods (`amr`) that count as multi-factor.
    public static let multiFactorMethods: Set<String> = ["mfa", "otp", "hwk"]

    private struct Issuer: Sendable {
        let configuration: IssuerConfiguration
        let keys: IssuerKeySet
    }

    private let issuers: [String: Issuer]
    private let primaryIssuer: String?
    private let clockSkew: TimeInterval
    private let clock: any WallClock
    /// Tokens already verified (see ``VerifiedJWTCache``): a token's next call skips the signature check.
    private let verified = VerifiedJWTCache()

    /// Creates a verifier for `configuration`'s issuers, each with its own key set.
    public init(
        configuration: AuthConfiguration, clock: any WallClock = SystemWallClock(),
        fetcher: any JWKSFetcher = HTTPJWKSFetcher(), logger: Logger
    ) throws(AuthConfigurationError) {
        try configuration.validate()
        var issuers: [String: Issuer] = [:]
        var schedule = IssuerKeySet.Schedule()
        schedule.refreshInterval = TimeInterval(configuration.jwksRefreshSeconds)
        schedule.maximumStaleness = TimeInterval(configuration.jwksMaxStaleSeconds)
        for issuer in configuration.issuers {
            let keys = IssuerKeySet(
                issuer: issuer.issuer, source: issuer.jwks, fetcher: fetcher, clock: clock, schedule: schedule,
                logger: logger)
            issuers[issuer.issuer] = Issuer(configuration: issuer, keys: keys)
        }
        self.issuers = issuers
        self.primaryIssuer = configuration.resolvedPrimaryIssuer
        self.clockSkew = TimeInterval(configuration.clockSkewSeconds)
        self.clock = clock
    }

    /// The principal `token` authenticates, or why it does not.
    public func verify(_ token: String) async throws(AuthFailure) -> Principal {
        let cacheKey = VerifiedJWTCache.key(token)
        if let known = verified.entry(for: cacheKey), let issuer = issuers[known.issuer],
           let key = await issuer.keys.key(for: known.kid), key.collection === known.collection,
           key.algorithm == known.algorithm {
            // Verified before with the very key the issuer's set still holds for this `kid`: only the checks that
            // depend on time are left.
            return try principal(from: known.claims, issuer: issuer.configuration)
        }
        guard let unverified = UnverifiedJWT(token) else { throw .malformedToken }
        if unverified.algorithm.lowercased() == "none" || unverified.algorithm.hasPrefix("HS") {
            throw .unsupportedAlgorithm
        }
        guard let issuerName = unverified.claims.issuer, let issuer = issuers[issuerName],
              Principal.sameID(issuer.configuration.issuer, issuerName) else {
            throw .unknownIssuer
        }
        guard let kid = unverified.keyID, let key = await issuer.keys.key(for: kid) else { throw .unknownKey }
        guard unverified.algorithm == key.algorithm else { throw .unsupportedAlgorithm }
        let claims: TokenClaims
        do {
            claims = try await key.collection.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw .malformedToken
        } catch {
            throw .invalidSignature
        }
        guard let verifiedIssuer = claims.issuer, Principal.sameID(verifiedIssuer, issuerName) else {
            throw .invalidSignature
        }
        // The header is signed too: an access token (`at+jwt`) is not an ID token of the same issuer.
        guard issuer.configuration.accepts(type: unverified.type) else { throw .invalidTokenType }
        let principal = try principal(from: claims, issuer: issuer.configuration)
        verified.store(
            VerifiedJWTCache.Entry(
                issuer: issuerName, kid: kid, collection: key.collection, algorithm: key.algorithm,
                claims: claims, storedAt: .now),
            for: cacheKey)
        return principal
    }

    /// Checks a verified token's time and audience claims and maps it to a principal.
    private func principal(from claims: TokenClaims, issuer: IssuerConfiguration) throws(AuthFailure) -> Principal {
        let now = clock.now().timeIntervalSince1970
        guard let subject = claims.subject, !subject.isEmpty, let expiresAt = claims.expiresAt else {
            throw .malformedToken
        }
        guard now < expiresAt + clockSkew else { throw .tokenExpired }
        if let notBefore = claims.notBefore, now + clockSkew < notBefore { throw .tokenNotYetValid }
        if let issuedAt = claims.issuedAt, now + clockSkew < issuedAt { throw .tokenNotYetValid }
        guard claims.audiences.contains(where: issuer.audiences.contains) else { throw .invalidAudience }

        var mfaAge: Int64?
        if let authTime = claims.authTime,
           !Self.multiFactorMethods.isDisjoint(with: claims.authenticationMethods) {
            let age = (now - authTime).rounded(.down)
            mfaAge = age.isFinite && age < 1e15 ? max(0, Int64(age)) : nil
        }
        let id = try PrincipalMapping.id(subject: subject, issuer: issuer.issuer, primaryIssuer: primaryIssuer)
        let manager = try PrincipalMapping.managerID(
            claim: claims.manager, issuer: issuer.issuer, primaryIssuer: primaryIssuer)
        return Principal(
            id: id, kind: issuer.workload ? .service : .user, groups: claims.groups, email: claims.email,
            mfaAgeSeconds: mfaAge, onCall: claims.onCall ?? false, manager: manager,
            credential: .jwt(issuer: issuer.issuer))
    }
}
