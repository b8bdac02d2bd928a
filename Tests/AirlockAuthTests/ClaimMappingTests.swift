import AirlockCore
import AirlockServer
import Foundation
import Testing

@Suite("Claims → principal")
struct ClaimMappingTests {
    func principal(_ fixture: AuthFixture, _ change: (inout TokenClaims) -> Void) async throws -> Principal {
        try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + (try await fixture.sign(change)))
    }

    @Test func attributesFromClaims() async throws {
        let fixture = try AuthFixture()
        let now = fixture.clock.unix
        let principal = try await principal(fixture) {
            $0.groups = ["dba", "payments"]
            $0.email = "alice@example.com"
            $0.authTime = now - 125
            $0.authenticationMethods = ["pwd", "mfa"]
            $0.onCall = true
        }
        #expect(principal == Principal(
            id: "alice", kind: .user, groups: ["dba", "payments"], email: "alice@example.com", mfaAgeSeconds: 125,
            onCall: true, credential: .jwt(issuer: "https://idp.example")))
    }

    @Test(arguments: [["mfa"], ["otp"], ["hwk", "pwd"]])
    func mfaAgeNeedsAMultiFactorMethod(methods: [String]) async throws {
        let fixture = try AuthFixture()
        let now = fixture.clock.unix
        #expect(try await principal(fixture) { $0.authTime = now - 30; $0.authenticationMethods = methods }
            .mfaAgeSeconds == 30)
    }

    @Test func noMfaAgeWithoutMultiFactorOrAuthTime() async throws {
        let fixture = try AuthFixture()
        let now = fixture.clock.unix
        #expect(try await principal(fixture) { $0.authTime = now - 30; $0.authenticationMethods = ["pwd"] }
            .mfaAgeSeconds == nil)
        #expect(try await principal(fixture) { $0.authTime = now - 30 }.mfaAgeSeconds == nil)
        #expect(try await principal(fixture) { $0.authenticationMethods = ["mfa"] }.mfaAgeSeconds == nil)
        // auth_time a little in the future (clock drift) counts as just now.
        #expect(try await principal(fixture) { $0.authTime = now + 5; $0.authenticationMethods = ["mfa"] }
            .mfaAgeSeconds == 0)
    }

    @Test func onCallDefaultsToFalse() async throws {
        let fixture = try AuthFixture()
        let principal = try await principal(fixture) { _ in }
        #expect(principal.onCall == false)
        #expect(principal.groups.isEmpty)
        #expect(principal.email == nil)
        #expect(principal.scopes.isEmpty)
    }

    @Test func workloadIssuerGivesServicePrincipals() async throws {
        let fixture = try AuthFixture()
        var claims = validClaims(fixture.clock, iss: "https://workload.example", sub: "system:serviceaccount:ci:deployer",
                                 aud: ["airlock-workloads"])
        claims.groups = ["ci"]
        let token = try await fixture.workload.sign(claims)
        let principal = try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + token)
        #expect(principal == Principal(
            id: "https://workload.example#system:serviceaccount:ci:deployer", kind: .service, groups: ["ci"],
            credential: .jwt(issuer: "https://workload.example")))
    }

    @Test func lenientClaimShapes() async throws {
        // `aud` and `groups` as a single string, fractional times.
        let claims = try JSONDecoder().decode(TokenClaims.self, from: Data(
            #"{"iss":"i","sub":"s","aud":"airlock","groups":"ops","exp":1800000300.5,"amr":"mfa"}"#.utf8))
        #expect(claims.audiences == ["airlock"])
        #expect(claims.groups == ["ops"])
        #expect(claims.authenticationMethods == ["mfa"])
        #expect(claims.expiresAt == 1_800_000_300.5)
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(TokenClaims.self, from: Data(#"{"on_call":"yes"}"#.utf8))
        }
    }
}
