import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import JWTKit
import Testing

/// Two issuers with a key each: a people issuer (`https://idp.example`, key `a1`) and a workload issuer
/// (`https://workload.example`, key `b1`), both from JWKS files.
struct AuthFixture {
    let clock = TestClock()
    let logs = CapturedLogs()
    let directory: TemporaryDirectory
    let people = TestKey(kid: "a1")
    let workload = TestKey(kid: "b1")
    let authenticator: Authenticator

    init() throws {
        directory = try TemporaryDirectory()
        let configuration = AuthConfiguration(issuers: [
            IssuerConfiguration(
                issuer: "https://idp.example", audiences: ["airlock"],
                jwks: .file(try directory.write("people.json", TestKey.jwks([people])))),
            IssuerConfiguration(
                issuer: "https://workload.example", audiences: ["airlock", "airlock-workloads"],
                jwks: .file(try directory.write("workload.json", TestKey.jwks([workload]))), workload: true),
        ])
        authenticator = try Authenticator(
            configuration: configuration, tokens: nil, clock: clock, fetcher: FakeFetcher(), logger: logs.logger())
    }

    func sign(_ change: (inout TokenClaims) -> Void = { _ in }) async throws -> String {
        var claims = validClaims(clock)
        change(&claims)
        return try await people.sign(claims)
    }

    /// Expects `header` to be refused with `code`, and neither the message nor any log line to contain `token`.
    func expect(
        _ header: String?, fails code: String, token: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let principal = try await authenticator.authenticate(authorizationHeader: header)
            Issue.record("accepted as \(principal.id), expected \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status == .unauthorized, sourceLocation: sourceLocation)
            #expect(error.code == code, sourceLocation: sourceLocation)
            if let token, token.count > 8 {
                #expect(!error.message.contains(token), sourceLocation: sourceLocation)
                #expect(!logs.text.contains(token), sourceLocation: sourceLocation)
                #expect(!logs.text.contains(String(token.suffix(20))), sourceLocation: sourceLocation)
            }
        }
    }

    func expect(token: String, fails code: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        await expect("Bearer " + token, fails: code, token: token, sourceLocation: sourceLocation)
    }
}

@Suite("Authenticator: every 401 code")
struct AuthenticatorTests {
    @Test func validTokenAuthenticates() async throws {
        let fixture = try AuthFixture()
        let token = try await fixture.sign()
        let principal = try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + token)
        #expect(principal == Principal(id: "alice", kind: .user, credential: .jwt(issuer: "https://idp.example")))
        let lowercaseScheme = try await fixture.authenticator.authenticate(authorizationHeader: "bearer " + token)
        #expect(lowercaseScheme.id == "alice")
    }

    @Test func missingToken() async throws {
        let fixture = try AuthFixture()
        for header in [nil, "", "   ", "Bearer", "Bearer   "] as [String?] {
            await fixture.expect(header, fails: "missing_token")
        }
    }

    @Test func malformedToken() async throws {
        let fixture = try AuthFixture()
        let token = try await fixture.sign()
        await fixture.expect("Basic " + token, fails: "malformed_token", token: token)
        await fixture.expect("Bearer " + token + " extra", fails: "malformed_token", token: token)
        for garbage in ["not-a-jwt", "a.b", "a.b.c.d", "e30.e30.", "!!!.???.sig", base64URL("{}") + ".x.y"] {
            await fixture.expect(token: garbage, fails: "malformed_token")
        }
        // A verified token without `sub` or `exp`.
        await fixture.expect(token: try await fixture.sign { $0.subject = nil }, fails: "malformed_token")
        await fixture.expect(token: try await fixture.sign { $0.expiresAt = nil }, fails: "malformed_token")
        // An alk_ token with a typo fails its checksum before any lookup.
        var typo = Array(ApiTokenFormat.generate(prefix: .airlock))
        typo[10] = typo[10] == "x" ? "y" : "x"
        await fixture.expect(token: String(typo), fails: "malformed_token")
    }

    @Test func invalidSignature() async throws {
        let fixture = try AuthFixture()
        // Another key under the same kid.
        let impostor = TestKey(kid: "a1")
        await fixture.expect(token: try await impostor.sign(validClaims(fixture.clock)), fails: "invalid_signature")
        // A payload changed after signing.
        let token = try await fixture.sign()
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = base64URL(#"{"iss":"https://idp.example","sub":"mallory","aud":"airlock","exp":9999999999}"#)
        await fixture.expect(token: parts.joined(separator: "."), fails: "invalid_signature")
        // No signature at all.
        await fixture.expect(token: parts[0] + "." + token.split(separator: ".")[1] + ".", fails: "invalid_signature")
    }

    @Test func unsupportedAlgorithm() async throws {
        let fixture = try AuthFixture()
        let token = try await fixture.sign()
        let none = replacingHeader(of: token, with: #"{"alg":"none","kid":"a1","typ":"JWT"}"#)
        await fixture.expect(token: String(none.prefix(upTo: none.lastIndex(of: ".") ?? none.endIndex)) + ".",
                             fails: "unsupported_algorithm")
        await fixture.expect(token: replacingHeader(of: token, with: #"{"alg":"NONE","kid":"a1"}"#),
                             fails: "unsupported_algorithm")
        await fixture.expect(token: replacingHeader(of: token, with: #"{"alg":"HS256","kid":"a1"}"#),
                             fails: "unsupported_algorithm")
        // An algorithm the key (EC P-256) does not have.
        for alg in ["ES384", "RS256", "PS256", "EdDSA"] {
            await fixture.expect(token: replacingHeader(of: token, with: #"{"alg":"\#(alg)","kid":"a1"}"#),
                                 fails: "unsupported_algorithm")
        }
    }

    @Test func tokenExpiredWithClockSkew() async throws {
        let fixture = try AuthFixture()
        let now = fixture.clock.unix
        // 59 s past `exp` is within the default 60 s skew; 60 s is not.
        let within = try await fixture.sign { $0.expiresAt = now - 59 }
        #expect(try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + within).id == "alice")
        await fixture.expect(token: try await fixture.sign { $0.expiresAt = now - 60 }, fails: "token_expired")
        let later = try await fixture.sign()
        fixture.clock.advance(3600)
        await fixture.expect(token: later, fails: "token_expired")
    }

    @Test func tokenNotYetValid() async throws {
        let fixture = try AuthFixture()
        let now = fixture.clock.unix
        let within = try await fixture.sign { $0.notBefore = now + 60 }
        #expect(try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + within).id == "alice")
        await fixture.expect(token: try await fixture.sign { $0.notBefore = now + 61 }, fails: "token_not_yet_valid")
        await fixture.expect(token: try await fixture.sign { $0.issuedAt = now + 120 }, fails: "token_not_yet_valid")
    }

    @Test func invalidAudience() async throws {
        let fixture = try AuthFixture()
        await fixture.expect(token: try await fixture.sign { $0.audiences = ["someone-else"] }, fails: "invalid_audience")
        await fixture.expect(token: try await fixture.sign { $0.audiences = [] }, fails: "invalid_audience")
        // One matching audience among several is enough.
        let several = try await fixture.sign { $0.audiences = ["other", "airlock"] }
        #expect(try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + several).id == "alice")
    }

    @Test func unknownIssuer() async throws {
        let fixture = try AuthFixture()
        await fixture.expect(token: try await fixture.sign { $0.issuer = "https://evil.example" }, fails: "unknown_issuer")
        await fixture.expect(token: try await fixture.sign { $0.issuer = nil }, fails: "unknown_issuer")
    }

    @Test func unknownKey() async throws {
        let fixture = try AuthFixture()
        let stranger = TestKey(kid: "zz")
        await fixture.expect(token: try await stranger.sign(validClaims(fixture.clock)), fails: "unknown_key")
        let token = try await fixture.sign()
        await fixture.expect(token: replacingHeader(of: token, with: #"{"alg":"ES256"}"#), fails: "unknown_key")
    }

    @Test func keySetsAreIsolatedPerIssuer() async throws {
        let fixture = try AuthFixture()
        // Issuer A's claims signed with issuer B's key (kid b1, known only to B): never matched against B's set,
        // and never falling back to A's only key.
        let crossed = try await fixture.workload.sign(validClaims(fixture.clock, iss: "https://idp.example"))
        await fixture.expect(token: crossed, fails: "unknown_key")
        // The same token signed by B's key under A's kid fails the signature rather than finding B's key.
        let relabelled = try await fixture.workload.sign(validClaims(fixture.clock, iss: "https://idp.example"), kid: "a1")
        await fixture.expect(token: relabelled, fails: "invalid_signature")
    }

    @Test func credentialTokensAreUnknownToTheAPI() async throws {
        let fixture = try AuthFixture()
        await fixture.expect(token: ApiTokenFormat.generate(prefix: .credential), fails: "unknown_token")
        // Without a token store every alk_ token is unknown.
        await fixture.expect(token: ApiTokenFormat.generate(prefix: .airlock), fails: "unknown_token")
    }

    @Test func refusalsNeverLogTheToken() async throws {
        let fixture = try AuthFixture()
        let token = try await fixture.sign { $0.audiences = ["x"] }
        await fixture.expect(token: token, fails: "invalid_audience")
        #expect(fixture.logs.text.contains("invalid_audience"))
        #expect(!fixture.logs.text.contains(token.split(separator: ".")[2]))
    }
}
