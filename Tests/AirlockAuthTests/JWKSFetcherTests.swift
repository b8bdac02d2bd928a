import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// Issue 11 item 7: the key set fetch against a real https server on 127.0.0.1, bounded in size as the body
/// streams and in total time.
@Suite("JWKS fetcher", .timeLimit(.minutes(2)))
struct JWKSFetcherTests {
    @Test("a key set is fetched over https, following an https redirect")
    func fetches() async throws {
        try await JWKSTestServer.with { server in
            let key = TestKey(kid: "k1")
            server.set(TestKey.jwks([key]))
            let fetcher = try JWKSTestServer.fetcher()
            #expect(String(decoding: try await fetcher.fetch(server.url("/jwks")), as: UTF8.self) == TestKey.jwks([key]))
            #expect(String(decoding: try await fetcher.fetch(server.url("/redirect")), as: UTF8.self) == TestKey.jwks([key]))
        }
    }

    @Test("refused: more than 1 MiB (declared or streamed), a redirect to http, a non-2xx answer, an untrusted certificate")
    func refusals() async throws {
        try await JWKSTestServer.with { server in
            let fetcher = try JWKSTestServer.fetcher()
            for (path, message) in [("/huge", "larger than"), ("/huge-declared", "larger than"),
                                    ("/redirect-http", "away from https"), ("/missing", "2xx")] {
                do {
                    _ = try await fetcher.fetch(server.url(path))
                    Issue.record("\(path) was accepted")
                } catch let error as JWKSFetchError {
                    #expect(error.message.contains(message), "\(path): \(error.message)")
                }
            }
            // The system's authorities never signed the test certificate.
            await #expect(throws: (any Error).self) { try await HTTPJWKSFetcher().fetch(server.url("/jwks")) }
        }
    }

    @Test("an answer that never ends is abandoned at the deadline")
    func deadline() async throws {
        try await JWKSTestServer.with { server in
            let fetcher = try JWKSTestServer.fetcher(deadline: .seconds(1))
            let started = ContinuousClock.now
            do {
                _ = try await fetcher.fetch(server.url("/drip"))
                Issue.record("a body that never ends was accepted")
            } catch let error as JWKSFetchError {
                #expect(error.message.contains("within"), "\(error.message)")
            }
            // The server would go on for a minute; a generous bound that any machine meets.
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }

    @Test("verification goes through the real fetcher end to end")
    func authenticatesWithFetchedKeys() async throws {
        try await JWKSTestServer.with { server in
            let key = TestKey(kid: "k1")
            server.set(TestKey.jwks([key]))
            let clock = TestClock()
            let authenticator = try Authenticator(
                configuration: AuthConfiguration(issuers: [
                    IssuerConfiguration(issuer: "https://idp.example", audiences: ["airlock"], jwks: .url(server.url("/jwks"))),
                ]), tokens: nil, clock: clock, fetcher: try JWKSTestServer.fetcher(), logger: CapturedLogs().logger())
            let token = try await key.sign(validClaims(clock))
            #expect(try await authenticator.authenticate(authorizationHeader: "Bearer " + token).id == "alice")
            #expect(server.requests == 1)
        }
    }
}
