import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// The console's sign-in check of an ID token (`Authenticator.signIn`): only the console's issuer, only a person,
/// only the nonce of this sign-in.
@Suite
struct ConsoleSignInTokenTests {
    static func authenticator(_ issuer: DevIssuer) throws -> Authenticator {
        try Authenticator(configuration: AuthConfiguration().trusting(issuer), tokens: nil, logger: CapturedLogs().logger())
    }

    static func code(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as APIError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test("the ID token answering this sign-in's nonce signs alice in; another nonce, none, a workload token, another issuer's or an alk_ token do not")
    func refusals() async throws {
        let issuer = try DevIssuer()
        let authenticator = try Self.authenticator(issuer)
        let good = try await issuer.issueToken(user: "alice", groups: ["sre"], mfa: true, nonce: "n-123")
        let alice = try await authenticator.signIn(idToken: good, issuer: DevIssuer.issuer, nonce: "n-123")
        #expect(alice.groups == ["sre"] && alice.mfaAgeSeconds != nil)

        #expect(await Self.code { _ = try await authenticator.signIn(idToken: good, issuer: DevIssuer.issuer, nonce: "n-124") }
                == "invalid_nonce")
        let noNonce = try await issuer.issueToken(user: "alice", groups: ["sre"])
        #expect(await Self.code { _ = try await authenticator.signIn(idToken: noNonce, issuer: DevIssuer.issuer, nonce: "n-123") }
                == "invalid_nonce")
        let workload = try await issuer.issueToken(user: "ci", service: true, nonce: "n-123")
        #expect(await Self.code { _ = try await authenticator.signIn(idToken: workload, issuer: DevIssuer.issuer, nonce: "n-123") }
                == "unknown_issuer")
        #expect(await Self.code { _ = try await authenticator.signIn(idToken: good, issuer: "https://other.example", nonce: "n-123") }
                == "unknown_issuer")
        let stranger = try DevIssuer()
        let forged = try await stranger.issueToken(user: "root", groups: ["airlock-admins"], nonce: "n-123")
        #expect(await Self.code { _ = try await authenticator.signIn(idToken: forged, issuer: DevIssuer.issuer, nonce: "n-123") } != nil)
        #expect(await Self.code { _ = try await authenticator.signIn(idToken: "alk_" + String(repeating: "a", count: 40), issuer: DevIssuer.issuer, nonce: "n-123") } != nil)
    }
}
