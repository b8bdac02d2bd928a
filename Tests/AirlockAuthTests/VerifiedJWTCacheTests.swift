import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// Issue 13: a JWT verified once is not verified again on its next call (a CLI's ask then pickup), but every check
/// that can change its answer still runs: time claims on every call, and the key it was verified with must still be
/// the issuer's.
@Suite("Verified JWT cache", .timeLimit(.minutes(2)))
struct VerifiedJWTCacheTests {
    let clock = TestClock()
    let fetcher = ScriptedFetcher()
    let url = URL(string: "https://idp.example/jwks")!  // a literal URL: cannot fail

    func authenticator() throws -> Authenticator {
        let configuration = AuthConfiguration(issuers: [
            IssuerConfiguration(issuer: "https://idp.example", audiences: ["airlock"], jwks: .url(url)),
        ])
        return try Authenticator(
            configuration: configuration, tokens: nil, clock: clock, fetcher: fetcher, logger: CapturedLogs().logger())
    }

    func authenticate(_ authenticator: Authenticator, _ token: String) async -> String {
        do {
            return try await authenticator.authenticate(authorizationHeader: "Bearer " + token).id
        } catch let error as APIError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    /// Polls `condition` for up to 10 s (a generous bound: it holds within milliseconds on any machine).
    func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<400 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    @Test("the same token is refused once it expires, though its signature was checked before")
    func expiryIsCheckedOnEveryCall() async throws {
        let key = TestKey(kid: "k1")
        fetcher.set(TestKey.jwks([key]))
        let authenticator = try authenticator()
        let token = try await key.sign(validClaims(clock))  // expires in 300 s
        #expect(await authenticate(authenticator, token) == "alice")
        clock.advance(200)
        #expect(await authenticate(authenticator, token) == "alice")
        clock.advance(200)  // past exp + the default skew
        #expect(await authenticate(authenticator, token) == "token_expired")
    }

    @Test("the same token is refused once the provider removed its key, though its signature was checked before")
    func removedKeyIsNotServedFromTheCache() async throws {
        let old = TestKey(kid: "k1")
        let new = TestKey(kid: "k2")
        fetcher.set(TestKey.jwks([old]))
        let authenticator = try authenticator()
        var claims = validClaims(clock)
        claims.expiresAt = clock.unix + 3_600
        let token = try await old.sign(claims)
        #expect(await authenticate(authenticator, token) == "alice")
        #expect(await authenticate(authenticator, token) == "alice")

        // The provider drops k1; the background refresh after 60 s brings the set without it.
        fetcher.set(TestKey.jwks([new]))
        clock.advance(61)
        #expect(await eventually { await authenticate(authenticator, token) == "unknown_key" })
        #expect(await authenticate(authenticator, token) == "unknown_key")
    }

    @Test("a token with a forged signature is refused even when the genuine one was verified before")
    func forgedSignatureIsRefused() async throws {
        let key = TestKey(kid: "k1")
        fetcher.set(TestKey.jwks([key]))
        let authenticator = try authenticator()
        let token = try await key.sign(validClaims(clock))
        #expect(await authenticate(authenticator, token) == "alice")
        var forged = validClaims(clock, sub: "mallory")
        forged.expiresAt = clock.unix + 300
        let other = try await TestKey(kid: "k1").sign(forged)  // same kid, another key
        let parts = token.split(separator: ".")
        let mixed = other.split(separator: ".")[0...1].joined(separator: ".") + "." + parts[2]
        #expect(await authenticate(authenticator, mixed) == "invalid_signature")
        #expect(await authenticate(authenticator, other) == "invalid_signature")
    }
}
