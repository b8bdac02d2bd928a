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

/// Airlock as a Shared Signals transmitter (issue 16, item 2) through running brokers: real RS256 signatures, real
/// HTTP on loopback, the receiver another Airlock with its own database.
@Suite(.serialized)
struct SharedSignalsTransmitterTests {
    static let issuer = "https://airlock-a.test"
    static let audience = "https://airlock-b.test/ssf"
    static let revoked = SharedSignalEvent.sessionRevoked.rawValue
    static let changed = SharedSignalEvent.credentialChange.rawValue

    /// Broker A's configuration: a transmitter, pushing to loopback receivers (as in development).
    static func transmitting(_ fixture: AccessFlowFixture, signer: SecurityEventSigner) -> ServerConfiguration {
        var config = fixture.config
        config.settings.sharedSignalsTransmitter = SharedSignalsTransmitterSettings(issuer: issuer, signer: signer)
        config.settings.webhookAddresses.allowsLoopback = true
        return config
    }

    static func token(_ fixture: AccessFlowFixture, scopes: [String], name: String = "receiver") async throws -> String {
        try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: name, scopes: scopes, logger: TestDatabase.logger).token
        }
    }

    /// Waits (at most 30 s: two brokers and a receiver share two cores with the rest of the suite) until `condition`
    /// holds.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<600 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test("A transmits to B: a verification, then a revocation on A reaches B as a session-revoked SET (and credential-change create and revoke) that B verifies, maps to alice and records",
          .timeLimit(.minutes(3)))
    func twoBrokers() async throws {
        let signer = try SecurityEventSigner.generate()
        let fixtureA = try await AccessFlowFixture.make()
        let fixtureB = try await AccessFlowFixture.make()
        let logsA = CapturedLogs()
        var configA = Self.transmitting(fixtureA, signer: signer)
        configA.logger = logsA.logger()
        var configB = fixtureB.config
        let receiverToken = try TestTransmitter().token  // 64 random hex digits
        configB.settings.sharedSignalsReceiver = SharedSignalsReceiverConfiguration(transmitters: [
            TransmitterConfiguration(
                issuer: Self.issuer, jwks: .document(#"{"keys": [\#(String(decoding: signer.publicJWK.canonicalBytes(), as: UTF8.self))]}"#),
                audiences: [Self.audience], authorizationToken: receiverToken),
        ])
        let appA = try buildApplication(config: configA)
        let appB = try buildApplication(config: configB)
        let alice = try await fixtureA.token("alice", groups: ["sre"], mfa: true)
        let manager = try await Self.token(fixtureA, scopes: ["ssf.manage"])
        let test = LeaseRevocationTests()
        let (streamID, lease) = try await appB.test(.live) { clientB -> (String, String) in
            try await appA.test(.live) { clientA -> (String, String) in
                try await ServerSupport.waitUntilReady(clientA)
                try await ServerSupport.waitUntilReady(clientB)
                let portB = try #require(clientB.port)
                let created = try await clientA.call(.post, "/ssf/streams", token: manager, body: """
                    {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://127.0.0.1:\(portB)/ssf/receive",
                                  "authorization_header": "Bearer \(receiverToken)"},
                     "events_requested": ["\(Self.revoked)", "\(Self.changed)", "https://example.com/unknown"],
                     "aud": "\(Self.audience)", "description": "broker B"}
                    """)
                #expect(created.status == .created, "\(created.json)")
                let stream = try #require(created.json["stream_id"]?.stringValue)
                #expect(created.json["iss"] == .string(Self.issuer) && created.json["aud"] == .string(Self.audience))
                #expect(created.json["events_delivered"] == [.string(Self.revoked), .string(Self.changed)])
                #expect(created.json["delivery"]?["authorization_header"] == nil, "the header is never shown")

                let verify = try await clientA.call(.post, "/ssf/verify", token: manager, body: """
                    {"stream_id": "\(stream)", "state": "hello-b"}
                    """)
                #expect(verify.status == .noContent, "\(verify.json)")
                #expect(try await Self.eventually {
                    try await FlowSteps.events(fixtureB).contains {
                        $0["type"] == "airlock.ssf.received" && $0["data"]?["state"] == "hello-b"
                    }
                }, "B recorded A's verification")

                let issued = try await test.issue(clientA, token: alice, ttl: 1800)
                let revoke = try await clientA.call(.post, "/v1/leases/\(issued.lease)/revoke", token: alice)
                #expect(revoke.status == .ok, "\(revoke.json)")
                #expect(try await Self.eventually {
                    try await FlowSteps.events(fixtureB).filter { $0["type"] == "airlock.ssf.received" }.count >= 4
                }, "B received the verification, the issuance and the revocation's two SETs")

                // Paused: what happens meanwhile is kept, and goes out, in order, once the stream is enabled again.
                let paused = try await clientA.call(.post, "/ssf/status", token: manager, body: """
                    {"stream_id": "\(stream)", "status": "paused", "reason": "B upgrades"}
                    """)
                #expect(paused.json["status"] == "paused", "\(paused.json)")
                let held = try await test.issue(clientA, token: alice, ttl: 1800)
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await FlowSteps.events(fixtureB).filter { $0["type"] == "airlock.ssf.received" }.count == 4)
                _ = try await clientA.call(.post, "/ssf/status", token: manager, body: """
                    {"stream_id": "\(stream)", "status": "enabled"}
                    """)
                #expect(try await Self.eventually {
                    try await FlowSteps.events(fixtureB).filter { $0["type"] == "airlock.ssf.received" }.count >= 7
                }, "B received stream-updated (paused), the held issuance, stream-updated (enabled)")
                let resumed = try await FlowSteps.events(fixtureB).filter { $0["type"] == "airlock.ssf.received" }
                    .dropFirst(4).map { $0["data"]?["event"]?.stringValue ?? "" }
                #expect(resumed == [SharedSignalEvent.streamUpdated.rawValue, Self.changed,
                                    SharedSignalEvent.streamUpdated.rawValue], "\(resumed)")
                _ = held
                return (stream, issued.lease)
            }
        }
        let eventsA = try await FlowSteps.events(fixtureA)
        let revocation = try #require(eventsA.first { $0["type"] == "airlock.credential.revoked" })
        let revocationID = try #require(revocation["id"]?.stringValue)
        let received = try await FlowSteps.events(fixtureB).filter { $0["type"] == "airlock.ssf.received" }
        let sessionRevoked = try #require(received.first { $0["data"]?["event"] == .string(Self.revoked) }?["data"])
        #expect(sessionRevoked["jti"] == .string(revocationID.lowercased()))
        #expect(sessionRevoked["principal"] == "alice" && sessionRevoked["outcome"] == "signal")
        #expect(sessionRevoked["transmitter"] == .string(Self.issuer) && sessionRevoked["txn"] == .string(revocationID))
        let changes = received.filter { $0["data"]?["event"] == .string(Self.changed) }
        #expect(changes.count == 3, "created, revoked, and the one held while the stream was paused")
        #expect(changes.allSatisfy { $0["data"]?["principal"] == "alice" })
        #expect(received.contains { $0["data"]?["jti"] == .string(revocationID.lowercased() + "-1") })
        // On A: the stream's creation audited without its authorization header; nothing holds the token.
        let creation = try #require(eventsA.first { $0["type"] == "airlock.ssf.stream.created" })
        #expect(creation["subject"] == .string(streamID))
        for text in logsA.all + eventsA.map({ String(decoding: $0.canonicalBytes(), as: UTF8.self) }) {
            #expect(!text.contains(receiverToken))
        }
        _ = lease
    }

    @Test("metadata and keys are public; a poll stream serves signed SETs until they are acknowledged",
          .timeLimit(.minutes(3)))
    func metadataAndPoll() async throws {
        let signer = try SecurityEventSigner.generate()
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: Self.transmitting(fixture, signer: signer))
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let manager = try await Self.token(fixture, scopes: ["ssf.manage"])
        let reader = try await Self.token(fixture, scopes: ["ssf.read"], name: "reader")
        let test = LeaseRevocationTests()
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let metadata = try await client.call(.get, "/.well-known/ssf-configuration", token: nil)
            #expect(metadata.status == .ok)
            #expect(metadata.json["spec_version"] == "1_0" && metadata.json["issuer"] == .string(Self.issuer))
            #expect(metadata.json["jwks_uri"] == .string(Self.issuer + "/ssf/jwks"))
            #expect(metadata.json["configuration_endpoint"] == .string(Self.issuer + "/ssf/streams"))
            #expect(metadata.json["status_endpoint"] == .string(Self.issuer + "/ssf/status"))
            #expect(metadata.json["verification_endpoint"] == .string(Self.issuer + "/ssf/verify"))
            #expect(metadata.json["delivery_methods_supported"] == ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"])
            let jwks = try await client.call(.get, "/ssf/jwks", token: nil)
            let key = try #require(jwks.json["keys"]?[0])
            #expect(key["kty"] == "RSA" && key["alg"] == "RS256" && key["kid"] == .string(signer.keyID))
            #expect(key["d"] == nil && key["p"] == nil, "no private part")

            let created = try await client.call(.post, "/ssf/streams", token: manager, body: """
                {"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["\(Self.changed)"]}
                """)
            #expect(created.status == .created, "\(created.json)")
            let stream = try #require(created.json["stream_id"]?.stringValue)
            #expect(created.json["delivery"]?["endpoint_url"] == .string(Self.issuer + "/ssf/poll/" + stream))

            _ = try await test.issue(client, token: alice, ttl: 1800)
            var sets: [String: JSONValue] = [:]
            #expect(try await Self.eventually {
                let polled = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: """
                    {"returnImmediately": true, "maxEvents": 10}
                    """)
                sets = polled.json["sets"]?.objectValue ?? [:]
                return !sets.isEmpty
            })
            #expect(sets.count == 1)
            let (jti, value) = try #require(sets.first)
            let token = try #require(value.stringValue)
            let claims = try #require(TestTransmitter.verifiedClaims(of: token, jwks: jwks.json))
            #expect(claims["jti"] == .string(jti) && claims["iss"] == .string(Self.issuer))
            #expect(claims["sub_id"] == ["format": "iss_sub", "iss": "airlock-dev", "sub": "alice"])
            #expect(claims["sub"] == nil && claims["exp"] == nil)
            #expect(claims["events"]?[Self.changed]?["change_type"] == "create")
            #expect(claims["events"]?.objectValue?.count == 1)
            // Kept until acknowledged: polled again, the same SET; acknowledged, gone.
            #expect(try await client.call(.post, "/ssf/poll/\(stream)", token: reader, body: "{}").status == .forbidden)
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(stream)", token: reader).status == .ok)
            let again = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: """
                {"returnImmediately": true}
                """)
            // The same SET: its `jti` and claims, except `iat`, which says when it was sent (a second may have passed).
            let resent = try #require(again.json["sets"]?[jti]?.stringValue)
            var resentClaims = try #require(TestTransmitter.verifiedClaims(of: resent, jwks: jwks.json)).objectValue ?? [:]
            var firstClaims = claims.objectValue ?? [:]
            #expect(resentClaims.removeValue(forKey: "iat") != nil && firstClaims.removeValue(forKey: "iat") != nil)
            #expect(resentClaims == firstClaims && !firstClaims.isEmpty)
            let acked = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: """
                {"returnImmediately": true, "ack": ["\(jti)"]}
                """)
            #expect(acked.json["sets"] == .object([:]) && acked.json["moreAvailable"] == false, "\(acked.json)")
        }
    }

    @Test("stream configuration: PATCH changes only what it names, PUT replaces the whole, GET reads it back, DELETE removes it",
          .timeLimit(.minutes(3)))
    func updateReplaceDelete() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: Self.transmitting(fixture, signer: try SecurityEventSigner.generate()))
        let manager = try await Self.token(fixture, scopes: ["ssf.manage"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let created = try await client.call(.post, "/ssf/streams", token: manager, body: """
                {"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["\(Self.changed)"]}
                """)
            let id = try #require(created.json["stream_id"]?.stringValue, "\(created.json)")
            #expect(created.json["events_delivered"] == [.string(Self.changed)])
            #expect(created.json["events_supported"]?.arrayValue?.contains(.string(Self.revoked)) == true)

            // PATCH: the events and a description; the delivery stays.
            let patched = try await client.call(.patch, "/ssf/streams", token: manager, body: """
                {"stream_id": "\(id)", "events_requested": ["\(Self.revoked)", "\(Self.changed)"], "description": "SOC"}
                """)
            #expect(patched.status == .ok, "\(patched.json)")
            #expect(Set(patched.json["events_delivered"]?.arrayValue ?? []) == [.string(Self.revoked), .string(Self.changed)])
            #expect(patched.json["description"] == "SOC" && patched.json["delivery"]?["method"] == "urn:ietf:rfc:8936")

            // PUT: the whole configuration; what it leaves out is gone.
            let replaced = try await client.call(.put, "/ssf/streams", token: manager, body: """
                {"stream_id": "\(id)", "delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["\(Self.revoked)"]}
                """)
            #expect(replaced.status == .ok, "\(replaced.json)")
            #expect(replaced.json["events_requested"] == [.string(Self.revoked)] && replaced.json["description"] == nil)
            let read = try await client.call(.get, "/ssf/streams?stream_id=\(id)", token: manager)
            #expect(read.json["events_delivered"] == [.string(Self.revoked)] && read.json["description"] == nil, "\(read.json)")

            // An unknown field changes nothing.
            let unknown = try await client.call(.patch, "/ssf/streams", token: manager, body: """
                {"stream_id": "\(id)", "owner": "someone-else"}
                """)
            #expect(unknown.status == .badRequest)

            let deleted = try await client.call(.delete, "/ssf/streams?stream_id=\(id)", token: manager)
            #expect(deleted.status == .noContent)
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(id)", token: manager).status == .notFound)
        }
    }

    @Test("a SET polled but not acknowledged is still there after the broker restarts; acknowledged, it is gone for good",
          .timeLimit(.minutes(3)))
    func pollSurvivesRestart() async throws {
        let signer = try SecurityEventSigner.generate()
        let fixture = try await AccessFlowFixture.make()
        let config = Self.transmitting(fixture, signer: signer)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let manager = try await Self.token(fixture, scopes: ["ssf.manage"])
        let test = LeaseRevocationTests()
        let poll = #"{"returnImmediately": true, "maxEvents": 10}"#

        // First broker: a poll stream, a credential issued, its SET polled once and not acknowledged.
        let (stream, jti, first) = try await buildApplication(config: config).test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let created = try await client.call(.post, "/ssf/streams", token: manager, body: """
                {"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["\(Self.changed)"]}
                """)
            let stream = try #require(created.json["stream_id"]?.stringValue, "\(created.json)")
            _ = try await test.issue(client, token: alice, ttl: 1800)
            var sets: [String: JSONValue] = [:]
            #expect(try await Self.eventually {
                sets = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: poll).json["sets"]?
                    .objectValue ?? [:]
                return !sets.isEmpty
            })
            let (jti, token) = try #require(sets.first)
            return (stream, jti, try #require(token.stringValue))
        }

        // A new broker process on the same database (the first one is gone): the same SET is still served.
        let jwks = try await buildApplication(config: config).test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let jwks = try await client.call(.get, "/ssf/jwks", token: nil).json
            let again = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: poll)
            #expect(again.json["sets"]?.objectValue?.keys.sorted() == [jti], "\(again.json)")
            let resent = try #require(again.json["sets"]?[jti]?.stringValue)
            var resentClaims = try #require(TestTransmitter.verifiedClaims(of: resent, jwks: jwks)).objectValue ?? [:]
            var firstClaims = try #require(TestTransmitter.verifiedClaims(of: first, jwks: jwks)).objectValue ?? [:]
            resentClaims.removeValue(forKey: "iat")
            firstClaims.removeValue(forKey: "iat")
            #expect(resentClaims == firstClaims && firstClaims["jti"] == .string(jti))
            let acked = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: """
                {"returnImmediately": true, "ack": ["\(jti)"]}
                """)
            #expect(acked.json["sets"] == .object([:]) && acked.json["moreAvailable"] == false, "\(acked.json)")
            return jwks
        }
        #expect(jwks["keys"]?[0]?["kid"] == .string(signer.keyID))

        // And after another restart, the acknowledged SET does not come back.
        try await buildApplication(config: config).test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let after = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: poll)
            #expect(after.status == .ok && after.json["sets"] == .object([:]), "\(after.json)")
        }
    }

    @Test("who may manage streams: ssf.manage creates and acts on its own only, ssf.read reads every one, other scopes and no token are refused",
          .timeLimit(.minutes(3)))
    func authorization() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: Self.transmitting(fixture, signer: try SecurityEventSigner.generate()))
        let mine = try await Self.token(fixture, scopes: ["ssf.manage"], name: "mine")
        let theirs = try await Self.token(fixture, scopes: ["ssf.manage"], name: "theirs")
        let reader = try await Self.token(fixture, scopes: ["ssf.read"], name: "reader")
        let signals = try await Self.token(fixture, scopes: ["signals"], name: "edr")
        let admin = try await FlowSteps.adminToken(fixture)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let body = #"{"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": []}"#
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            #expect(try await client.call(.post, "/ssf/streams", token: nil, body: body).status == .unauthorized)
            for token in [reader, signals, alice] {
                #expect(try await client.call(.post, "/ssf/streams", token: token, body: body).status == .forbidden)
            }
            #expect(try await client.call(.get, "/ssf/streams", token: signals).status == .forbidden)
            let created = try await client.call(.post, "/ssf/streams", token: mine, body: body)
            let stream = try #require(created.json["stream_id"]?.stringValue, "\(created.json)")
            // Another receiver: as if it did not exist, whatever it tries.
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(stream)", token: theirs).status == .notFound)
            #expect(try await client.call(.get, "/ssf/streams", token: theirs).json == [])
            #expect(try await client.call(.delete, "/ssf/streams?stream_id=\(stream)", token: theirs).status == .notFound)
            #expect(try await client.call(.patch, "/ssf/streams", token: theirs, body: """
                {"stream_id": "\(stream)", "description": "mine now"}
                """).status == .notFound)
            #expect(try await client.call(.post, "/ssf/status", token: theirs, body: """
                {"stream_id": "\(stream)", "status": "disabled"}
                """).status == .notFound)
            #expect(try await client.call(.post, "/ssf/poll/\(stream)", token: theirs, body: "{}").status == .notFound)
            // Its owner, admins and readers see it; a reader changes nothing.
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(stream)", token: mine).status == .ok)
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(stream)", token: admin).status == .ok)
            #expect(try await client.call(.get, "/ssf/streams", token: reader).json.arrayValue?.count == 1)
            #expect(try await client.call(.delete, "/ssf/streams?stream_id=\(stream)", token: reader).status == .forbidden)
            // A push URL's path and query (where a receiver may keep a secret) are its owner's to see.
            let push = try await client.call(.post, "/ssf/streams", token: mine, body: """
                {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://receiver.test/ssf?key=s3cret"}}
                """)
            let pushID = try #require(push.json["stream_id"]?.stringValue, "\(push.json)")
            #expect(push.json["delivery"]?["endpoint_url"] == "https://receiver.test/ssf?key=s3cret")
            let seen = try await client.call(.get, "/ssf/streams?stream_id=\(pushID)", token: reader).json
            #expect(seen["delivery"]?["endpoint_url"] == "https://receiver.test:443/…", "\(seen)")
            #expect(try await client.call(.delete, "/ssf/streams?stream_id=\(pushID)", token: mine).status == .noContent)
            // Hostile input changes nothing.
            for bad in [
                #"{"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://10.0.0.1/receive"}}"#,
                #"{"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://169.254.169.254/x"}}"#,
                #"{"delivery": {"method": "urn:example:carrier-pigeon"}}"#,
                #"{"delivery": {"method": "urn:ietf:rfc:8936"}, "surprise": 1}"#,
                #"{"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://r.test/x", "authorization_header": "a\u0000b"}}"#,
            ] {
                let refused = try await client.call(.post, "/ssf/streams", token: mine, body: bad)
                #expect([.badRequest, .unprocessableContent].contains(refused.status), "\(bad): \(refused.json)")
            }
            #expect(try await client.call(.get, "/ssf/streams", token: mine).json.arrayValue?.count == 1)
            // Status and deletion by the owner.
            let paused = try await client.call(.post, "/ssf/status", token: mine, body: """
                {"stream_id": "\(stream)", "status": "paused", "reason": "maintenance"}
                """)
            #expect(paused.json == ["stream_id": .string(stream), "status": "paused", "reason": "maintenance"])
            #expect(try await client.call(.get, "/ssf/status?stream_id=\(stream)", token: reader).json["status"] == "paused")
            #expect(try await client.call(.delete, "/ssf/streams?stream_id=\(stream)", token: mine).status == .noContent)
            #expect(try await client.call(.get, "/ssf/streams?stream_id=\(stream)", token: mine).status == .notFound)
        }
    }
    @Test("a request whose score crosses a level records airlock.risk.level_changed once, sent as CAEP risk-level-change; the same level again is no change",
          .timeLimit(.minutes(3)))
    func riskLevelChange() async throws {
        let fixture = try await AccessFlowFixture.make(policies: ContinuousEvaluationTests.policies)
        let app = try buildApplication(config: Self.transmitting(fixture, signer: try SecurityEventSigner.generate()))
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let manager = try await Self.token(fixture, scopes: ["ssf.manage"])
        let admin = try await FlowSteps.adminToken(fixture)
        let riskLevel = SharedSignalEvent.riskLevelChange.rawValue
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let created = try await client.call(.post, "/ssf/streams", token: manager, body: """
                {"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["\(riskLevel)"]}
                """)
            let stream = try #require(created.json["stream_id"]?.stringValue, "\(created.json)")
            let ask = """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-9"}
                """
            // Low: no change.
            _ = try await client.call(.post, "/v1/access-requests", token: alice, body: ask)
            // A critical signal (weight 80): her next request scores HIGH, and the one after stays HIGH.
            _ = try await client.call(.post, "/v1/signals", token: admin, body: """
                {"principal": "alice", "signal": "credential_leaked", "severity": "critical", "ttl_seconds": 600}
                """)
            for _ in 0..<2 { _ = try await client.call(.post, "/v1/access-requests", token: alice, body: ask) }
            var sets: [String: JSONValue] = [:]
            #expect(try await Self.eventually {
                sets = try await client.call(.post, "/ssf/poll/\(stream)", token: manager, body: """
                    {"returnImmediately": true}
                    """).json["sets"]?.objectValue ?? [:]
                return !sets.isEmpty
            })
            #expect(sets.count == 1, "\(sets.keys)")
            let jwks = try await client.call(.get, "/ssf/jwks", token: nil).json
            let token = try #require(sets.first?.value.stringValue)
            let claims = try #require(TestTransmitter.verifiedClaims(of: token, jwks: jwks))
            let event = try #require(claims["events"]?[riskLevel])
            #expect(event["current_level"] == "HIGH" && event["previous_level"] == "LOW" && event["principal"] == "USER")
            #expect(event["risk_reason"]?.stringValue?.contains("credential_leaked") == true, "\(event)")
            #expect(claims["sub_id"] == ["format": "iss_sub", "iss": "airlock-dev", "sub": "alice"])
        }
        let changes = try await FlowSteps.events(fixture).filter { $0["type"] == "airlock.risk.level_changed" }
        #expect(changes.count == 1)
        #expect(changes.first?["data"]?["current_level"] == "HIGH" && changes.first?["subject"] == "alice")
    }
}
