import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

/// The Shared Signals receiver (issue 16, item 1) through the running broker: real signatures from a test
/// transmitter, real leases on a real target, the audit chain read back.
@Suite(.serialized)
struct SharedSignalsReceiverTests {
    static let policies = ContinuousEvaluationTests.policies + """

        forbid "identity-provider-says-no"
          when risk.signals contains_any ["credential_compromised", "account_disabled", "session_revoked"]
          notify "security";
        """
    static let audience = "https://airlock.test/ssf"
    static let compromise = SharedSignalEvent.credentialCompromise.rawValue

    /// A fixture whose broker takes SETs from `transmitters` (the first with the default event mapping).
    static func fixture(
        _ transmitters: [TestTransmitter], logs: CapturedLogs = CapturedLogs(),
        change: (inout TransmitterConfiguration) -> Void = { _ in }
    ) async throws -> (AccessFlowFixture, ServerConfiguration) {
        let fixture = try await AccessFlowFixture.make(policies: policies)
        var config = fixture.config
        config.logger = logs.logger()
        config.settings.sharedSignalsReceiver = SharedSignalsReceiverConfiguration(
            transmitters: try transmitters.map { transmitter in
                var configuration = TransmitterConfiguration(
                    issuer: transmitter.issuer, jwks: .document(try transmitter.jwks()), audiences: [audience],
                    authorizationToken: transmitter.token)
                change(&configuration)
                return configuration
            })
        return (fixture, config)
    }

    /// Pushes `set` as a transmitter does (RFC 8935): the answer's status and body.
    static func push(
        _ client: some TestClientProtocol, _ set: String, token: String?,
        contentType: String = "application/secevent+jwt"
    ) async throws -> (status: HTTPResponse.Status, json: JSONValue) {
        var headers: HTTPFields = [.contentType: contentType, .accept: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await client.execute(
            uri: "/ssf/receive", method: .post, headers: headers, body: ByteBuffer(string: set))
        let text = String(buffer: response.body)
        return (response.status, (try? JSONValue.parse(Data(text.utf8))) ?? .string(text))
    }

    static func count(_ table: String, _ fixture: AccessFlowFixture) async throws -> Int {
        try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            var count = 0
            for try await value in try await database.client.query(
                "SELECT count(*)::int FROM \(unescaped: table)", logger: TestDatabase.logger).decode(Int.self)
            {
                count = value
            }
            return count
        }
    }

    @Test("a credential-compromise SET for alice (RS256, 2048 bits) ends her leases before it is answered, alerts naming its jti; bob's lease survives",
          .timeLimit(.minutes(3)))
    func credentialCompromiseEndsLeases() async throws {
        let transmitter = try TestTransmitter(rsa: true)
        let logs = CapturedLogs()
        let (fixture, config) = try await Self.fixture([transmitter], logs: logs)
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        let test = LeaseRevocationTests()
        let jti = "set-\(UUID().uuidString)"
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let first = try await test.issue(client, token: alice, ttl: 1800)
            let bobs = try await test.issue(client, token: bob, ttl: 1800)

            let set = try transmitter.sign(transmitter.claims(
                event: Self.compromise,
                payload: ["credential_type": "password", "reason_admin": ["en": "found in a paste site"]],
                subject: TestTransmitter.issuerSubject("airlock-dev", "alice"), audience: Self.audience, jti: jti,
                transaction: "txn-7"))
            let answer = try await Self.push(client, set, token: transmitter.token)
            #expect(answer.status == .accepted, "\(answer.json)")
            // Done by the time the push was answered.
            #expect(try await ContinuousEvaluationTests.lease(client, first.lease, token: alice) == "revoked")
            #expect(try await LeaseRevocationTests.roleExists(first.user, on: fixture.target) == false)
            #expect(try await ContinuousEvaluationTests.lease(client, bobs.lease, token: bob) == "active")

            let listed = try await client.call(.get, "/v1/signals?principal=alice", token: admin)
            let signal = try #require(listed.json["items"]?[0], "\(listed.json)")
            #expect(signal["signal"] == "credential_compromised" && signal["severity"] == "critical")
            #expect(signal["source"] == .string("ssf:" + transmitter.issuer))
            #expect(signal["detail"]?.stringValue?.contains(jti) == true)
            #expect(signal["detail"]?.stringValue?.contains("found in a paste site") == true)

            let next = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "again"}
                """)
            #expect(next.json["status"] == "denied", "\(next.json)")
        }
        let events = try await FlowSteps.events(fixture)
        let alert = try #require(events.first { $0["type"] == "airlock.access.reevaluated" }?["data"])
        #expect(alert["cause"]?.stringValue?.contains("SET jti \(jti)") == true, "\(alert)")
        #expect(alert["severity"] == "high" && alert["principal"] == "alice")
        let received = try #require(events.first { $0["type"] == "airlock.ssf.received" })
        #expect(received["subject"] == .string(jti))
        #expect(received["data"]?["outcome"] == "signal" && received["data"]?["principal"] == "alice")
        #expect(received["data"]?["txn"] == "txn-7" && received["data"]?["transmitter"] == .string(transmitter.issuer))
        #expect(events.contains { $0["type"] == "airlock.signal.received" })
        // The transmitter's token is a secret: never in a log line or an event.
        for text in logs.all + events.map { String(decoding: $0.canonicalBytes(), as: UTF8.self) } {
            #expect(!text.contains(transmitter.token))
        }
    }

    @Test("every way a SET can be wrong is refused with its RFC 8935 code and records nothing; a replay is refused, even two at once",
          .timeLimit(.minutes(3)))
    func refusals() async throws {
        let transmitter = try TestTransmitter()
        let other = try TestTransmitter(issuer: "https://other-idp.test")
        let (fixture, config) = try await Self.fixture([transmitter, other])
        let app = try buildApplication(config: config)
        let stranger = try TestTransmitter(kid: transmitter.kid)  // same kid, another key
        let subject = TestTransmitter.issuerSubject("airlock-dev", "alice")
        let event = SharedSignalEvent.credentialChange.rawValue
        func claims(
            audience: String = Self.audience, issuedAt: Date = Date(), jti: String = UUID().uuidString
        ) -> JSONValue {
            transmitter.claims(event: event, subject: subject, audience: audience, jti: jti, issuedAt: issuedAt)
        }
        func edited(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
            guard case .object(var members) = claims() else { return claims() }
            change(&members)
            return .object(members)
        }
        let valid = try transmitter.sign(claims())
        let twin = try transmitter.sign(claims())
        let unsignedHeader = TestTransmitter.base64URL(Data(#"{"alg":"none","typ":"secevent+jwt","kid":"set-key-1"}"#.utf8))
        let cases: [(String, String, String?, String, String)] = [
            ("wrong media type", valid, transmitter.token, "application/json", "invalid_request"),
            ("no token", valid, nil, "application/secevent+jwt", "authentication_failed"),
            ("a wrong token", valid, String(transmitter.token.reversed()), "application/secevent+jwt",
             "authentication_failed"),
            ("another transmitter's token", valid, other.token, "application/secevent+jwt", "access_denied"),
            ("an unknown issuer", try TestTransmitter(issuer: "https://evil.test", kid: transmitter.kid).sign(
                TestTransmitter(issuer: "https://evil.test").claims(event: event, subject: subject, audience: Self.audience)),
             transmitter.token, "application/secevent+jwt", "invalid_issuer"),
            ("another key under its kid", try stranger.sign(claims()), transmitter.token, "application/secevent+jwt",
             "invalid_key"),
            ("an unknown kid", try transmitter.sign(claims(), kid: "nope"), transmitter.token,
             "application/secevent+jwt", "invalid_key"),
            ("alg none", unsignedHeader + "." + valid.split(separator: ".")[1] + ".", transmitter.token,
             "application/secevent+jwt", "invalid_key"),
            ("typ JWT", try transmitter.sign(claims(), typ: "JWT"), transmitter.token, "application/secevent+jwt",
             "invalid_request"),
            ("no typ", try transmitter.sign(claims(), typ: nil), transmitter.token, "application/secevent+jwt",
             "invalid_request"),
            ("another audience", try transmitter.sign(claims(audience: "https://elsewhere.test")), transmitter.token,
             "application/secevent+jwt", "invalid_audience"),
            ("too old", try transmitter.sign(claims(issuedAt: Date().addingTimeInterval(-3_700))), transmitter.token,
             "application/secevent+jwt", "invalid_request"),
            ("from the future", try transmitter.sign(claims(issuedAt: Date().addingTimeInterval(300))),
             transmitter.token, "application/secevent+jwt", "invalid_request"),
            ("no jti", try transmitter.sign(edited { $0["jti"] = nil }), transmitter.token, "application/secevent+jwt",
             "invalid_request"),
            ("two events", try transmitter.sign(edited {
                $0["events"] = .object([event: .object([:]), Self.compromise: .object([:])])
            }), transmitter.token, "application/secevent+jwt", "invalid_request"),
            ("no events", try transmitter.sign(edited { $0["events"] = nil }), transmitter.token,
             "application/secevent+jwt", "invalid_request"),
            ("not a JWS", "hello", transmitter.token, "application/secevent+jwt", "invalid_request"),
            ("larger than 64 KiB", String(repeating: "a", count: 70_000), transmitter.token, "application/secevent+jwt",
             "invalid_request"),
            ("a media type with parameters, but another type", valid, transmitter.token,
             "application/jwt; charset=utf-8", "invalid_request"),
            ("a tampered payload", String(valid.split(separator: ".")[0]) + "."
                + TestTransmitter.base64URL(edited { $0["sub_id"] = TestTransmitter.issuerSubject("airlock-dev", "bob") }
                    .canonicalBytes()) + "." + String(valid.split(separator: ".")[2]),
             transmitter.token, "application/secevent+jwt", "invalid_key"),
        ]
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            for (name, set, token, type, code) in cases {
                let answer = try await Self.push(client, set, token: token, contentType: type)
                #expect(answer.status == .badRequest, "\(name): \(answer.status)")
                #expect(answer.json["err"] == .string(code), "\(name): \(answer.json)")
                #expect(answer.json["description"]?.stringValue?.isEmpty == false, "\(name)")
            }
            #expect(try await Self.count("ssf_received_sets", fixture) == 0)
            #expect(try await Self.count("risk_signals", fixture) == 0)

            // The valid one, then again: a replay.
            #expect(try await Self.push(client, valid, token: transmitter.token).status == .accepted)
            let replay = try await Self.push(client, valid, token: transmitter.token)
            #expect(replay.status == .badRequest && replay.json["err"] == "invalid_request", "\(replay.json)")
            // Two of the same at once, from two connections: exactly one is taken.
            let answers = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<2 { group.addTask { try await Self.push(client, twin, token: transmitter.token).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.sorted { $0.code < $1.code } == [.accepted, .badRequest])
            #expect(try await Self.count("ssf_received_sets", fixture) == 2)
            #expect(try await Self.count("risk_signals", fixture) == 2)
        }
    }

    @Test("subjects map through the login issuers: iss_sub, opaque and (where configured) email; what maps to no one, verification and unknown events are recorded and audited, not acted on",
          .timeLimit(.minutes(3)))
    func subjectsAndOutcomes() async throws {
        let transmitter = try TestTransmitter()
        let (fixture, config) = try await Self.fixture([transmitter]) { configuration in
            configuration.subjectIssuer = "airlock-dev"
            configuration.emailIsSubject = true
            configuration.signals[.credentialChange] = .some(nil)  // ignored by configuration
            configuration.signals[.sessionRevoked] = SharedSignalEvent.SignalMapping(
                name: "idp_session_revoked", severity: .low, ttlSeconds: 600)
        }
        let app = try buildApplication(config: config)
        let revoked = SharedSignalEvent.sessionRevoked.rawValue
        let cases: [(JSONValue?, String, String, String?)] = [
            // (sub_id, event, outcome, principal)
            (TestTransmitter.issuerSubject("airlock-dev", "carol"), revoked, "signal", "carol"),
            (["format": "opaque", "id": "dave"], revoked, "signal", "dave"),
            (["format": "email", "email": "erin@example.com"], revoked, "signal", "erin@example.com"),
            (["format": "complex", "user": ["format": "opaque", "id": "frank"]], revoked, "signal", "frank"),
            (TestTransmitter.issuerSubject("https://unknown.test", "carol"), revoked, "ignored", nil),
            (["format": "phone_number", "phone_number": "+1555"], revoked, "ignored", nil),
            (["format": "opaque", "id": "token:abc"], revoked, "ignored", nil),
            (nil, revoked, "ignored", nil),
            (TestTransmitter.issuerSubject("airlock-dev", "carol"), SharedSignalEvent.credentialChange.rawValue,
             "ignored", "carol"),
            (TestTransmitter.issuerSubject("airlock-dev", "carol"),
             "https://schemas.openid.net/secevent/caep/event-type/session-established", "ignored", "carol"),
        ]
        let jtis = cases.map { _ in UUID().uuidString }
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            for ((subject, event, _, _), jti) in zip(cases, jtis) {
                let set = try transmitter.sign(transmitter.claims(
                    event: event, subject: subject, audience: Self.audience, jti: jti))
                let answer = try await Self.push(client, set, token: transmitter.token)
                #expect(answer.status == .accepted, "\(String(describing: subject)): \(answer.json)")
            }
            let verification = try transmitter.sign(transmitter.claims(
                event: SharedSignalEvent.verification.rawValue, payload: ["state": "ping-42"], subject: nil,
                audience: Self.audience, jti: "verify-1"))
            #expect(try await Self.push(client, verification, token: transmitter.token).status == .accepted)
        }
        let events = try await FlowSteps.events(fixture).filter { $0["type"] == "airlock.ssf.received" }
        #expect(events.count == cases.count + 1)
        for ((subject, _, outcome, principal), jti) in zip(cases, jtis) {
            let event = try #require(events.first { $0["subject"] == .string(jti) }, "\(String(describing: subject))")
            let data = try #require(event["data"])
            #expect(data["outcome"] == .string(outcome), "\(String(describing: subject)): \(data)")
            #expect(data["principal"] == (principal.map(JSONValue.string) ?? .null), "\(String(describing: subject))")
            if outcome == "ignored" { #expect(data["ignored_because"]?.stringValue?.isEmpty == false) }
        }
        // An event about a person that could be acted on but names no one here is the security team's to see.
        let unmapped = try #require(events.first { $0["subject"] == .string(jtis[4]) }?["data"])
        #expect(unmapped["severity"] == "medium" && unmapped["channels"] == ["security"])
        let verified = try #require(events.first { $0["subject"] == "verify-1" }?["data"])
        #expect(verified["outcome"] == "verification" && verified["state"] == "ping-42")
        let signals = try await FlowSteps.events(fixture).filter { $0["type"] == "airlock.signal.received" }
        #expect(Set(signals.compactMap { $0["data"]?["principal"]?.stringValue })
                == ["carol", "dave", "erin@example.com", "frank"])
        #expect(signals.allSatisfy { $0["data"]?["signal"] == "idp_session_revoked" && $0["data"]?["ttl_seconds"] == 600 })
    }
}
