import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

@Suite("Dev issuer")
struct DevIssuerTests {
    func authenticator(trusting issuer: DevIssuer, clock: TestClock) throws -> Authenticator {
        try Authenticator(
            configuration: AuthConfiguration().trusting(issuer), tokens: nil, clock: clock,
            fetcher: FakeFetcher(), logger: CapturedLogs().logger())
    }

    @Test func devTokensVerifyAgainstTheDevJWKS() async throws {
        let clock = TestClock()
        let issuer = try DevIssuer(clock: clock)
        let authenticator = try authenticator(trusting: issuer, clock: clock)
        let token = try await issuer.issueToken(
            user: "alice", groups: ["dba"], mfa: true, onCall: true, email: "alice@example.com")
        clock.advance(90)
        let principal = try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
        #expect(principal == Principal(
            id: "alice", kind: .user, groups: ["dba"], email: "alice@example.com", mfaAgeSeconds: 90, onCall: true,
            credential: .jwt(issuer: DevIssuer.issuer)))

        // The dev issuer for people is primary (bare ids); a dev service is qualified by its workload issuer.
        let service = try await issuer.issueToken(user: "billing", service: true)
        let servicePrincipal = try await authenticator.authenticate(authorizationHeader: "Bearer " + service)
        #expect(servicePrincipal == Principal(
            id: "airlock-dev-workload#billing", kind: .service, credential: .jwt(issuer: DevIssuer.workloadIssuer)))
        #expect(servicePrincipal.id == DevIssuer.principalID(user: "billing", service: true))
        #expect(DevIssuer.principalID(user: "alice", service: false) == "alice")

        let plain = try await issuer.issueToken(user: "bob")
        let bob = try await authenticator.authenticate(authorizationHeader: "Bearer " + plain)
        #expect(bob.mfaAgeSeconds == nil && bob.onCall == false)
    }

    @Test func devTokensCarryTheManager() async throws {
        let clock = TestClock()
        let issuer = try DevIssuer(clock: clock)
        let authenticator = try authenticator(trusting: issuer, clock: clock)
        let alice = try await authenticator.authenticate(
            authorizationHeader: "Bearer " + (try await issuer.issueToken(user: "alice", manager: "carol")))
        #expect(alice == Principal(
            id: "alice", kind: .user, manager: "carol", credential: .jwt(issuer: DevIssuer.issuer)))
        // A dev service's manager is qualified by the workload issuer, as its own id is.
        let serviceToken = try await issuer.issueToken(user: "billing", service: true, manager: "carol")
        let service = try await authenticator.authenticate(authorizationHeader: "Bearer " + serviceToken)
        #expect(service.manager == DevIssuer.principalID(user: "carol", service: true))
        #expect(service.manager == "airlock-dev-workload#carol")
        let plain = try await authenticator.authenticate(
            authorizationHeader: "Bearer " + (try await issuer.issueToken(user: "bob")))
        #expect(plain.manager == nil)
    }

    @Test func jwksHoldsOnlyThePublicKey() throws {
        let issuer = try DevIssuer(kid: "dev-1")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(issuer.jwksJSON.utf8)) as? [String: Any])
        let keys = try #require(object["keys"] as? [[String: String]])
        #expect(keys.count == 1)
        #expect(keys[0]["kid"] == "dev-1")
        #expect(keys[0]["alg"] == "ES256")
        #expect(keys[0]["d"] == nil)
    }

    @Test func anotherDevIssuerWithTheSameKidFailsTheSignature() async throws {
        let clock = TestClock()
        let trusted = try DevIssuer(kid: "dev", clock: clock)
        let other = try DevIssuer(kid: "dev", clock: clock)
        let authenticator = try authenticator(trusting: trusted, clock: clock)
        let token = try await other.issueToken(user: "mallory", groups: ["admins"])
        do {
            _ = try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
            Issue.record("a foreign dev token was accepted")
        } catch {
            #expect(error.code == "invalid_signature")
        }
    }

    @Test func saveAndLoadKeepTheKeyPrivate() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("dev-issuer.json").path
        let clock = TestClock()
        let issuer = try DevIssuer(clock: clock)
        try issuer.save(to: path)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o777 == 0o600)

        // A separate process (here: a loaded copy) signs tokens the original's JWKS verifies.
        let loaded = try DevIssuer.load(from: path, clock: clock)
        #expect(loaded.kid == issuer.kid)
        #expect(loaded.jwksJSON == issuer.jwksJSON)
        let token = try await loaded.issueToken(user: "alice")
        let principal = try await authenticator(trusting: issuer, clock: clock)
            .authenticate(authorizationHeader: "Bearer " + token)
        #expect(principal.id == "alice")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let error = #expect(throws: DevIssuerError.self) { try DevIssuer.load(from: path) }
        #expect(error?.message.contains("chmod 600 \(path)") == true)
    }
}
