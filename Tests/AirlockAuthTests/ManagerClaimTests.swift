import AirlockCore
import AirlockServer
import Crypto
import Foundation
import Testing

extension RawES256Key {
    /// `payload` (JSON text, as it is) signed under `alg: ES256`, this `kid` and `typ: JWT`: claims that
    /// ``TokenClaims`` cannot express, such as a claim of the wrong type.
    func sign(payload: String) throws -> String {
        let header = #"{"alg":"ES256","kid":"\#(kid)","typ":"JWT"}"#
        let input = unpadded(Data(header.utf8)) + "." + unpadded(Data(payload.utf8))
        return input + "." + unpadded(try key.signature(for: Data(input.utf8)).rawRepresentation)
    }

    private func unpadded(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Issue 12, item 2: the `manager` claim → `principal.manager`, qualified by issuer exactly as `sub` is.
@Suite("The manager claim")
struct ManagerClaimTests {
    typealias Fixture = PrincipalIdentityTests.Fixture
    static let people = PrincipalIdentityTests.people
    static let contractors = PrincipalIdentityTests.contractors
    static let clusterA = PrincipalIdentityTests.clusterA

    func authenticate(_ fixture: Fixture, _ issuer: String, sub: String = "alice", manager: String?) async throws
        -> Principal
    {
        var claims = validClaims(fixture.clock, iss: issuer, sub: sub)
        claims.manager = manager
        let token = try fixture.keys[issuer]!.sign(claims, typ: "JWT")
        return try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + token)
    }

    func code(_ fixture: Fixture, payload: String, issuer: String = PrincipalIdentityTests.people) async throws
        -> String?
    {
        let token = try fixture.keys[issuer]!.sign(payload: payload)
        do {
            _ = try await fixture.authenticator.authenticate(authorizationHeader: "Bearer " + token)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("a primary-issuer token's manager is its bare subject; none, or an empty one, is no manager")
    func managerOfThePrimaryIssuer() async throws {
        let fixture = try Fixture()
        let alice = try await authenticate(fixture, Self.people, manager: "carol")
        #expect(alice == Principal(
            id: "alice", kind: .user, manager: "carol", credential: .jwt(issuer: Self.people)))
        #expect(try await authenticate(fixture, Self.people, manager: nil).manager == nil)
        #expect(try await authenticate(fixture, Self.people, manager: "").manager == nil)
        // Byte for byte, never normalised: a decomposed é stays decomposed.
        #expect(try await authenticate(fixture, Self.people, manager: "jose\u{301}").manager?.utf8
            .elementsEqual("jose\u{301}".utf8) == true)
    }

    @Test("another issuer's manager is qualified by that issuer: the id that manager's own token gets")
    func managerOfAnotherIssuer() async throws {
        let fixture = try Fixture()
        let contractor = try await authenticate(fixture, Self.contractors, sub: "dan", manager: "carol")
        #expect(contractor.id == "https://contractors.example#dan")
        #expect(contractor.manager == "https://contractors.example#carol")
        let theirCarol = try await authenticate(fixture, Self.contractors, sub: "carol", manager: nil)
        #expect(contractor.manager == theirCarol.id)
        #expect(contractor.manager != "carol", "a contractors token must not name the primary issuer's carol")

        let workload = try await authenticate(fixture, Self.clusterA, sub: "deployer", manager: "ops-lead")
        #expect(workload.manager == "https://k8s-a.example#ops-lead" && workload.kind == .service)
        // Qualified, any subject is fine: a `#` or `token:` stays inside this issuer's id space.
        #expect(try await authenticate(fixture, Self.clusterA, manager: "token:x").manager
            == "https://k8s-a.example#token:x")
        #expect(try await authenticate(fixture, Self.clusterA, manager: "a#b").manager == "https://k8s-a.example#a#b")

        // With no primary issuer, the people issuer's managers are qualified too.
        let nonePrimary = try Fixture(primary: nil)
        #expect(try await authenticate(nonePrimary, Self.people, manager: "carol").manager
            == "https://login.example#carol")
    }

    @Test("a primary-issuer manager shaped like a qualified or token id is refused, as such a sub is")
    func managerThatWouldNameAnotherIssuersPrincipal() async throws {
        let fixture = try Fixture()
        for manager in ["https://k8s-a.example#deployer", "token:deployer", "a#b", "#\u{301}x", "token:"] {
            do {
                let principal = try await authenticate(fixture, Self.people, manager: manager)
                Issue.record("accepted manager \(manager) as \(String(describing: principal.manager))")
            } catch let error as APIError {
                #expect(error.code == "unsupported_subject", "\(manager)")
                #expect(error.message.contains("manager"), "\(error.message)")
            }
        }
    }

    @Test("a manager claim that is not a string makes the token malformed, as a wrongly typed email does")
    func wronglyTypedManager() async throws {
        let fixture = try Fixture()
        let now = Int(fixture.clock.unix)
        let base = #""iss":"\#(Self.people)","sub":"alice","aud":"airlock","exp":\#(now + 300),"iat":\#(now - 10)"#
        #expect(try await code(fixture, payload: "{\(base)}") == nil)
        #expect(try await code(fixture, payload: #"{\#(base),"manager":"carol"}"#) == nil)
        #expect(try await code(fixture, payload: #"{\#(base),"manager":null}"#) == nil)
        for value in ["7", "true", #"["carol"]"#, #"{"id":"carol"}"#] {
            let manager = try await code(fixture, payload: #"{\#(base),"manager":\#(value)}"#)
            let email = try await code(fixture, payload: #"{\#(base),"email":\#(value)}"#)
            #expect(manager == "malformed_token" && email == manager, "\(value): \(String(describing: manager))")
        }
    }

    @Test func claimsRoundTrip() throws {
        let claims = TokenClaims(issuer: "i", subject: "s", manager: "carol")
        let encoded = String(decoding: try JSONEncoder().encode(claims), as: UTF8.self)
        #expect(encoded.contains(#""manager":"carol""#), "\(encoded)")
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(encoded.utf8)) == claims)
        let none = String(decoding: try JSONEncoder().encode(TokenClaims(issuer: "i")), as: UTF8.self)
        #expect(!none.contains("manager"), "\(none)")
    }
}
