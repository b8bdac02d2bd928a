import AirlockCore
import AirlockServer
import AirlockTestSupport
import Crypto
import Foundation
import Testing

/// A P-256 key that signs compact JWS by hand, so a test chooses the header exactly (jwt-kit always writes `typ`).
struct RawES256Key: Sendable {
    let kid: String
    let key = P256.Signing.PrivateKey()

    var jwks: String {
        let raw = key.publicKey.rawRepresentation
        let x = base64URL(raw.prefix(32)), y = base64URL(raw.suffix(32))
        return #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}]}"#
    }

    /// `claims` signed under a header of `alg: ES256`, this `kid` and, when given, `typ`.
    func sign(_ claims: TokenClaims, typ: String?) throws -> String {
        var header = #"{"alg":"ES256","kid":"\#(kid)""#
        if let typ { header += #","typ":"\#(typ)""# }
        header += "}"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let input = base64URL(Data(header.utf8)) + "." + base64URL(try encoder.encode(claims))
        let signature = try key.signature(for: Data(input.utf8)).rawRepresentation
        return input + "." + base64URL(signature)
    }

    private func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Issue 10, items 3 and 18: principal ids qualified by issuer (one primary human issuer keeps bare subjects, and no
/// form collides with another), and the JWT `typ` checked per issuer.
@Suite("Principal ids and token types")
struct PrincipalIdentityTests {
    static let people = "https://login.example"
    static let contractors = "https://contractors.example"
    static let clusterA = "https://k8s-a.example"
    static let clusterB = "https://k8s-b.example"

    struct Fixture {
        let clock = TestClock()
        let directory: TemporaryDirectory
        let keys: [String: RawES256Key]
        let authenticator: Authenticator

        /// Four issuers: two human (people primary unless `primary` says otherwise), two workload clusters.
        init(primary: String? = PrincipalIdentityTests.people, accessTokens: Bool = false) throws {
            directory = try TemporaryDirectory()
            var keys: [String: RawES256Key] = [:]
            var issuers: [IssuerConfiguration] = []
            for (index, (issuer, workload)) in [
                (PrincipalIdentityTests.people, false), (PrincipalIdentityTests.contractors, false),
                (PrincipalIdentityTests.clusterA, true), (PrincipalIdentityTests.clusterB, true),
            ].enumerated() {
                let key = RawES256Key(kid: "k\(index)")
                keys[issuer] = key
                var configuration = IssuerConfiguration(
                    issuer: issuer, audiences: ["airlock"], jwks: .file(try directory.write("k\(index).json", key.jwks)),
                    workload: workload)
                if accessTokens, issuer == PrincipalIdentityTests.contractors {
                    configuration.acceptedTypes = ["at+jwt"]
                    configuration.requiresType = true
                }
                issuers.append(configuration)
            }
            self.keys = keys
            authenticator = try Authenticator(
                configuration: AuthConfiguration(issuers: issuers, primaryIssuer: primary), tokens: nil, clock: clock,
                fetcher: FakeFetcher(), logger: CapturedLogs().logger())
        }

        func authenticate(_ issuer: String, sub: String, typ: String? = "JWT") async throws -> Principal {
            let token = try keys[issuer]!.sign(validClaims(clock, iss: issuer, sub: sub), typ: typ)
            return try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
        }

        func code(_ issuer: String, sub: String, typ: String? = "JWT") async throws -> String? {
            let token = try keys[issuer]!.sign(validClaims(clock, iss: issuer, sub: sub), typ: typ)
            do {
                _ = try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
                return nil
            } catch {
                return error.code
            }
        }
    }

    @Test("a workload token with sub=alice is not alice; two clusters do not share a subject space")
    func qualifiedByIssuer() async throws {
        let fixture = try Fixture()
        let alice = try await fixture.authenticate(Self.people, sub: "alice")
        #expect(alice.id == "alice" && alice.kind == .user)
        let workloadAlice = try await fixture.authenticate(Self.clusterA, sub: "alice")
        #expect(workloadAlice.id == "https://k8s-a.example#alice" && workloadAlice.kind == .service)
        #expect(!workloadAlice.owns(alice.id))
        let deployerA = try await fixture.authenticate(Self.clusterA, sub: "system:serviceaccount:ci:deployer")
        let deployerB = try await fixture.authenticate(Self.clusterB, sub: "system:serviceaccount:ci:deployer")
        #expect(deployerA.id == "https://k8s-a.example#system:serviceaccount:ci:deployer")
        #expect(deployerB.id == "https://k8s-b.example#system:serviceaccount:ci:deployer")
        #expect(!deployerA.owns(deployerB.id))
        // A second human issuer is qualified too: its alice is not the primary issuer's alice.
        #expect(try await fixture.authenticate(Self.contractors, sub: "alice").id == "https://contractors.example#alice")
    }

    @Test("a primary-issuer subject shaped like a token or qualified id is refused, on bytes")
    func noCollisionWithOtherForms() async throws {
        let fixture = try Fixture()
        for subject in ["token:deployer", "token:", "https://k8s-a.example#alice", "a#b", "#", "#\u{301}x",
                        "token:\u{301}deployer"] {
            #expect(try await fixture.code(Self.people, sub: subject) == "unsupported_subject", "\(subject)")
        }
        // Elsewhere the subject is qualified, so any subject is fine.
        #expect(try await fixture.authenticate(Self.clusterA, sub: "token:deployer").id
            == "https://k8s-a.example#token:deployer")
        #expect(try await fixture.authenticate(Self.people, sub: "Token:x").id == "Token:x")
        #expect(try await fixture.authenticate(Self.people, sub: "tokens:x").id == "tokens:x")
    }

    @Test("the primary issuer: configured, or the only human issuer; none with two and no setting")
    func primaryIssuer() async throws {
        let contractorsPrimary = try Fixture(primary: Self.contractors)
        #expect(try await contractorsPrimary.authenticate(Self.contractors, sub: "bob").id == "bob")
        #expect(try await contractorsPrimary.authenticate(Self.people, sub: "bob").id == "https://login.example#bob")
        let nonePrimary = try Fixture(primary: nil)
        #expect(try await nonePrimary.authenticate(Self.people, sub: "bob").id == "https://login.example#bob")

        let file = IssuerConfiguration.KeySource.document(#"{"keys":[]}"#)
        let single = AuthConfiguration(issuers: [
            IssuerConfiguration(issuer: Self.people, audiences: ["a"], jwks: file),
            IssuerConfiguration(issuer: Self.clusterA, audiences: ["a"], jwks: file, workload: true),
        ])
        #expect(single.resolvedPrimaryIssuer == Self.people)
        var two = single
        two.issuers.append(IssuerConfiguration(issuer: Self.contractors, audiences: ["a"], jwks: file))
        #expect(two.resolvedPrimaryIssuer == nil)
        // `airlock dev`: the dev issuer for people is primary even beside another human issuer.
        let dev = try DevIssuer()
        #expect(single.trusting(dev).resolvedPrimaryIssuer == DevIssuer.issuer)
        #expect(AuthConfiguration().trusting(dev).resolvedPrimaryIssuer == DevIssuer.issuer)

        func problem(_ configuration: AuthConfiguration) -> String? {
            do {
                try configuration.validate()
                return nil
            } catch {
                return error.message
            }
        }
        #expect(problem(single) == nil)
        var unknown = single
        unknown.primaryIssuer = "https://elsewhere.example"
        #expect(problem(unknown)?.contains("not a configured issuer") == true)
        var workload = single
        workload.primaryIssuer = Self.clusterA
        #expect(problem(workload)?.contains("workload issuer") == true)
        for bad in ["https://idp.example#x", "token:idp"] {
            var configuration = single
            configuration.issuers.append(IssuerConfiguration(issuer: bad, audiences: ["a"], jwks: file))
            #expect(problem(configuration) != nil, "\(bad)")
        }
    }

    @Test("the auth config file reads primary_issuer, typ and require_typ")
    func configurationFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("auth.json", """
            {"issuers": [
              {"issuer": "https://login.example", "audiences": ["airlock"], "jwks_file": "k.json"},
              {"issuer": "https://api.example", "audiences": ["airlock"], "jwks_file": "k.json",
               "typ": ["at+jwt"], "require_typ": true}],
             "primary_issuer": "https://api.example"}
            """)
        let configuration = try AuthConfiguration.load(fromFile: path)
        #expect(configuration.primaryIssuer == "https://api.example")
        #expect(configuration.issuers[0].acceptedTypes == ["JWT"] && !configuration.issuers[0].requiresType)
        #expect(configuration.issuers[1].acceptedTypes == ["at+jwt"] && configuration.issuers[1].requiresType)
        let wrong = try directory.write("wrong.json", """
            {"issuers": [{"issuer": "https://login.example", "audiences": ["airlock"], "jwks_file": "k.json"}],
             "primary_issuer": "https://nobody.example"}
            """)
        #expect(throws: AuthConfigurationError.self) { try AuthConfiguration.load(fromFile: wrong) }
    }

    @Test("typ: an access token (at+jwt) is not an ID token; absent typ is accepted unless required")
    func tokenType() async throws {
        let fixture = try Fixture(accessTokens: true)
        // The primary human issuer takes ID tokens: `JWT` (any case, `application/` prefix allowed) or none.
        for typ in ["JWT", "jwt", "application/jwt", nil] {
            #expect(try await fixture.code(Self.people, sub: "alice", typ: typ) == nil, "\(typ ?? "none")")
        }
        for typ in ["at+jwt", "application/at+jwt", "JOSE", "logout+jwt", ""] {
            #expect(try await fixture.code(Self.people, sub: "alice", typ: typ) == "invalid_token_type", "\(typ)")
        }
        // A workload issuer (Kubernetes writes no typ) likewise.
        #expect(try await fixture.code(Self.clusterA, sub: "ci", typ: nil) == nil)
        #expect(try await fixture.code(Self.clusterA, sub: "ci", typ: "at+jwt") == "invalid_token_type")
        // An issuer configured for access tokens: at+jwt only, and required.
        #expect(try await fixture.code(Self.contractors, sub: "carol", typ: "at+jwt") == nil)
        #expect(try await fixture.code(Self.contractors, sub: "carol", typ: "JWT") == "invalid_token_type")
        #expect(try await fixture.code(Self.contractors, sub: "carol", typ: nil) == "invalid_token_type")
    }
}
