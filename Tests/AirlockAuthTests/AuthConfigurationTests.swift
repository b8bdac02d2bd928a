import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

@Suite("Auth configuration and key sets")
struct AuthConfigurationTests {
    @Test func loadsTheConfigFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("auth.json", """
            {"issuers": [
              {"issuer": "https://idp.example", "audiences": ["airlock"], "jwks_file": "keys/idp.json"},
              {"issuer": "https://k8s.example", "audiences": ["airlock"], "jwks_url": "https://k8s.example/jwks",
               "workload": true}],
             "clock_skew_seconds": 30, "trusted_proxies": ["10.0.0.0/8"]}
            """)
        let configuration = try AuthConfiguration.load(fromFile: path)
        #expect(configuration.clockSkewSeconds == 30)
        #expect(configuration.trustedProxies.map(\.description) == ["10.0.0.0/8"])
        #expect(configuration.issuers == [
            IssuerConfiguration(
                issuer: "https://idp.example", audiences: ["airlock"],
                jwks: .file(directory.url.appendingPathComponent("keys/idp.json").path)),
            IssuerConfiguration(
                issuer: "https://k8s.example", audiences: ["airlock"],
                jwks: .url(try #require(URL(string: "https://k8s.example/jwks"))), workload: true),
        ])
    }

    @Test(arguments: [
        #"{"issuers": [{"issuer": "i", "audiences": ["a"], "jwks_url": "http://idp.example/jwks"}]}"#,
        #"{"issuers": [{"issuer": "i", "audiences": ["a"], "jwks_url": "file:///etc/jwks.json"}]}"#,
        #"{"issuers": [{"issuer": "i", "audiences": ["a"]}]}"#,
        #"{"issuers": [{"issuer": "i", "audiences": [], "jwks_file": "k.json"}]}"#,
        #"{"issuers": [{"issuer": "i", "audiences": ["a"], "jwks_file": "k.json", "jwks_url": "https://x/j"}]}"#,
        #"{"issuers": [{"issuer": "i", "audiences": ["a"], "jwks_file": "k.json", "algorithm": "none"}]}"#,
        #"{"issuer": []}"#,
        #"{"trusted_proxies": ["not a network"]}"#,
        #"{"clock_skew_seconds": -1}"#,
    ])
    func rejectsBadConfigFiles(text: String) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("auth.json", text)
        #expect(throws: AuthConfigurationError.self) { try AuthConfiguration.load(fromFile: path) }
    }

    @Test func jwksURLsMustBeHTTPS() async throws {
        for text in ["http://idp.example/jwks", "ftp://idp.example/jwks"] {
            let url = try #require(URL(string: text))
            let configuration = AuthConfiguration(issuers: [
                IssuerConfiguration(issuer: "i", audiences: ["airlock"], jwks: .url(url)),
            ])
            #expect(throws: AuthConfigurationError.self) {
                try Authenticator(configuration: configuration, tokens: nil, logger: CapturedLogs().logger())
            }
        }
        let fetcher = HTTPJWKSFetcher()
        let plain = try #require(URL(string: "http://127.0.0.1:1/jwks"))
        await #expect(throws: JWKSFetchError.self) { try await fetcher.fetch(plain) }
    }

    @Test func urlKeySetsAreCachedAndRefreshedOnRotation() async throws {
        let clock = TestClock()
        let fetcher = FakeFetcher()
        let old = TestKey(kid: "k1")
        let new = TestKey(kid: "k2")
        fetcher.set(TestKey.jwks([old]))
        let url = try #require(URL(string: "https://idp.example/jwks"))
        let authenticator = try Authenticator(
            configuration: AuthConfiguration(issuers: [
                IssuerConfiguration(issuer: "https://idp.example", audiences: ["airlock"], jwks: .url(url)),
            ]), tokens: nil, clock: clock, fetcher: fetcher, logger: CapturedLogs().logger())
        func authenticate(_ key: TestKey) async -> String {
            do {
                let token = try await key.sign(validClaims(clock))
                return try await authenticator.authenticate(authorizationHeader: "Bearer " + token).id
            } catch let error as APIError {
                return error.code
            } catch {
                return "\(error)"
            }
        }
        #expect(await authenticate(old) == "alice")
        #expect(await authenticate(old) == "alice")
        #expect(fetcher.fetches == 1)

        // The issuer rotates: the unknown kid triggers one reload.
        fetcher.set(TestKey.jwks([new]))
        #expect(await authenticate(new) == "alice")
        #expect(fetcher.fetches == 2)
        // Unknown kids do not reload more than once per 5 s...
        let stranger = TestKey(kid: "k3")
        #expect(await authenticate(stranger) == "unknown_key")
        #expect(await authenticate(stranger) == "unknown_key")
        #expect(fetcher.fetches == 2)
        clock.advance(5)
        #expect(await authenticate(stranger) == "unknown_key")
        #expect(fetcher.fetches == 3)
        // ...and known keys are re-read every minute, in the background (the answer does not wait for it).
        clock.advance(60)
        #expect(await authenticate(new) == "alice")
        for _ in 0..<400 where fetcher.fetches < 4 { try await Task.sleep(for: .milliseconds(25)) }
        #expect(fetcher.fetches == 4)
    }

    @Test func unusableKeysAreSkipped() async throws {
        let clock = TestClock()
        let good = TestKey(kid: "good")
        let goodEntry = TestKey.jwks([good]).dropFirst(9).dropLast(2)
        let document = """
            {"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
            {"kty":"EC","crv":"P-256","kid":"enc","use":"enc","x":"AA","y":"AA"},
            \(goodEntry)]}
            """
        let authenticator = try Authenticator(
            configuration: AuthConfiguration(issuers: [
                IssuerConfiguration(issuer: "https://idp.example", audiences: ["airlock"], jwks: .document(document)),
            ]), tokens: nil, clock: clock, fetcher: FakeFetcher(), logger: CapturedLogs().logger())
        let token = try await good.sign(validClaims(clock))
        #expect(try await authenticator.authenticate(authorizationHeader: "Bearer " + token).id == "alice")
        let hmac = replacingHeader(of: token, with: #"{"alg":"ES256","kid":"hmac"}"#)
        do {
            _ = try await authenticator.authenticate(authorizationHeader: "Bearer " + hmac)
            Issue.record("accepted a token for a symmetric key")
        } catch {
            #expect(error.code == "unknown_key")
        }
    }
}
