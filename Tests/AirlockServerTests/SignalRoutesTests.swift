import AirlockBroker
import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// External risk signals (issue 15, item 4) through the real HTTP server and PostgreSQL: `POST /v1/signals`,
/// `GET /v1/signals`, `DELETE /v1/signals/{id}`; who may call them, what is refused, expiry by the broker's clock,
/// and the audit events written with each change.
@Suite(.serialized)
struct SignalRoutesTests {
    static let detail = "EDR-7731: beacon to 203.0.113.9 from laptop LT-0042"

    /// An `alk_` token made by the fixture's admin.
    static func token(_ client: some TestClientProtocol, _ fixture: TokenRoutesFixture, name: String, scopes: [String])
        async throws -> String
    {
        let scopes = scopes.map { "\"\($0)\"" }.joined(separator: ", ")
        let created = try await client.call(
            .post, "/v1/tokens", token: fixture.adminToken, body: #"{"name": "\#(name)", "scopes": [\#(scopes)]}"#)
        return try #require(created.json["token"]?.stringValue, "\(created.json)")
    }

    static func events(_ fixture: TokenRoutesFixture, _ type: String) async throws -> [JSONValue] {
        try await fixture.auditEvents().map { try JSONValue.parse(Data($0.utf8)) }.filter { $0["type"]?.stringValue == type }
    }

    @Test("a signals token adds, lists and withdraws; each change is audited with the signal's severity and channels",
          .timeLimit(.minutes(2)))
    func roundTrip() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let (critical, low) = try await app.test(.live) { client -> (String, String) in
            try await ServerSupport.waitUntilReady(client)
            let edr = try await Self.token(client, fixture, name: "edr", scopes: ["signals"])
            let added = try await client.call(.post, "/v1/signals", token: edr, body: """
                {"principal": "alice", "signal": "device_compromised", "severity": "critical", "ttl_seconds": 3600,
                 "detail": "\(Self.detail)"}
                """)
            #expect(added.status == .created, "\(added.json)")
            let critical = try #require(added.json["id"]?.stringValue)
            #expect(added.json["principal"] == "alice" && added.json["signal"] == "device_compromised")
            #expect(added.json["severity"] == "critical" && added.json["status"] == "active")
            #expect(added.json["source"] == "token:edr" && added.json["detail"]?.stringValue == Self.detail)
            #expect(added.json["withdrawn_at"] == .null && added.json["withdrawn_by"] == .null)
            let received = try #require(added.json["received_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            let expires = try #require(added.json["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expires.timeIntervalSince(received) - 3600) < 0.01)

            // An admin sends one too (no detail: null), about someone else.
            let other = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: """
                {"principal": "repo:org/app", "signal": "impossible_travel", "severity": "low", "ttl_seconds": 60, "detail": null}
                """)
            #expect(other.status == .created, "\(other.json)")
            #expect(other.json["detail"] == .null && other.json["source"] == "token:root-admin")
            let low = try #require(other.json["id"]?.stringValue)

            let listed = try await client.call(.get, "/v1/signals", token: edr)
            #expect(listed.status == .ok, "\(listed.json)")
            #expect(listed.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [low, critical])
            #expect(listed.json["next_cursor"] == .null)
            let mine = try await client.call(.get, "/v1/signals?principal=repo%3Aorg%2Fapp", token: edr)
            #expect(mine.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [low], "\(mine.json)")
            let paged = try await client.call(.get, "/v1/signals?limit=1", token: edr)
            #expect(paged.json["items"]?.arrayValue?.count == 1 && paged.json["next_cursor"]?.stringValue == low)
            let second = try await client.call(.get, "/v1/signals?limit=1&cursor=\(low)", token: edr)
            #expect(second.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [critical])

            let withdrawn = try await client.call(.delete, "/v1/signals/\(critical)", token: edr)
            #expect(withdrawn.status == .noContent)
            let again = try await client.call(.delete, "/v1/signals/\(critical)", token: fixture.adminToken)
            #expect(again.status == .noContent)  // idempotent: nothing changes, nothing more is audited
            let active = try await client.call(.get, "/v1/signals", token: edr)
            #expect(active.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [low])
            let all = try await client.call(.get, "/v1/signals?all=true&principal=alice", token: edr)
            let item = try #require(all.json["items"]?.arrayValue?.first)
            #expect(item["status"] == "withdrawn" && item["withdrawn_by"] == "token:edr", "\(item)")
            #expect(item["withdrawn_at"]?.stringValue != nil)

            let unknown = try await client.call(.delete, "/v1/signals/\(UUID())", token: edr)
            #expect(unknown.status == .notFound && unknown.json["error"]?["code"] == "not_found")
            #expect(try await client.call(.delete, "/v1/signals/not-a-uuid", token: edr).status == .notFound)
            return (critical, low)
        }
        let received = try await Self.events(fixture, "airlock.signal.received")
        #expect(received.count == 2)
        let first = try #require(received.first { $0["subject"]?.stringValue == critical })
        let data = try #require(first["data"])
        #expect(data["severity"] == "critical" && data["channels"] == .array(["security"]))
        #expect(data["principal"] == "alice" && data["signal"] == "device_compromised" && data["source"] == "token:edr")
        #expect(data["detail"]?.stringValue == Self.detail && data["expires_at"]?.stringValue != nil)
        #expect(data["title"] == "device_compromised (critical) reported for alice by token:edr")
        let second = try #require(received.first { $0["subject"]?.stringValue == low })
        #expect(second["data"]?["severity"] == "low" && second["data"]?["channels"] == .array([]))
        #expect(second["data"]?["detail"] == .null)
        let withdrawals = try await Self.events(fixture, "airlock.signal.withdrawn")
        #expect(withdrawals.count == 1)
        #expect(withdrawals.first?["subject"]?.stringValue == critical)
        #expect(withdrawals.first?["data"]?["severity"] == "critical")
        #expect(withdrawals.first?["data"]?["channels"] == .array(["security"]))
        #expect(withdrawals.first?["data"]?["actor"] == "token:edr")
        // The detail is stored and audited, never logged: not at info or above (where the broker says it received a
        // signal), and not at any level these captured logs hold (trace).
        let loud = fixture.logs.all.filter { line in
            ["info", "notice", "warning", "error", "critical"].contains { line.hasPrefix($0 + " ") }
        }
        #expect(loud.contains { $0.contains("risk signal received") })
        #expect(!loud.contains { $0.contains("EDR-7731") || $0.contains("203.0.113.9") })
        let quiet = fixture.logs.all.filter { $0.contains("EDR-7731") }
        #expect(quiet.isEmpty, "\(quiet)")
    }

    @Test("people, service, auditor and introspect tokens may not send or withdraw (403 before the body); auditors list",
          .timeLimit(.minutes(2)))
    func whoMayCall() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let edr = try await Self.token(client, fixture, name: "edr", scopes: ["signals"])
            let added = try await client.call(.post, "/v1/signals", token: edr, body: """
                {"principal": "alice", "signal": "credential_leaked", "severity": "high", "ttl_seconds": 600}
                """)
            let id = try #require(added.json["id"]?.stringValue, "\(added.json)")
            let auditor = try await Self.token(client, fixture, name: "audit", scopes: ["auditor"])
            let service = try await Self.token(client, fixture, name: "ci", scopes: ["service"])
            let created = try await client.call(.post, "/v1/tokens", token: fixture.adminToken, body: """
                {"name": "rs", "scopes": ["introspect"], "audience": "payments-api"}
                """)
            let introspect = try #require(created.json["token"]?.stringValue, "\(created.json)")
            let person = try await fixture.issuer.issueToken(user: "alice", groups: ["security"])
            let valid = #"{"principal": "bob", "signal": "device_compromised", "severity": "high", "ttl_seconds": 600}"#
            for token in [auditor, service, introspect, person] {
                // Before the body is read: even malformed JSON or an oversized body is 403.
                for body in [valid, "{not json", String(repeating: "x", count: 70_000)] {
                    let answer = try await client.call(.post, "/v1/signals", token: token, body: body)
                    #expect(answer.status == .forbidden, "\(answer.json)")
                    #expect(answer.json["error"]?["code"] == "forbidden")
                }
                #expect(try await client.call(.delete, "/v1/signals/\(id)", token: token).status == .forbidden)
                #expect(try await client.call(.delete, "/v1/signals/\(UUID())", token: token).status == .forbidden)
            }
            for token in [service, introspect, person] {
                #expect(try await client.call(.get, "/v1/signals", token: token).status == .forbidden)
            }
            let listed = try await client.call(.get, "/v1/signals?all=true", token: auditor)
            #expect(listed.status == .ok && listed.json["items"]?.arrayValue?.count == 1, "\(listed.json)")
            #expect(try await client.call(.get, "/v1/signals", token: nil).status == .unauthorized)
            #expect(try await client.call(.post, "/v1/signals", token: nil, body: valid).status == .unauthorized)
            // Still active, and only the one signal was ever recorded.
            let after = try await client.call(.get, "/v1/signals", token: edr)
            #expect(after.json["items"]?.arrayValue?.first?["status"] == "active")
        }
        #expect(try await Self.events(fixture, "airlock.signal.received").count == 1)
        #expect(try await Self.events(fixture, "airlock.signal.withdrawn").isEmpty)
    }

    /// A `POST /v1/signals` body: valid unless a field is replaced (each argument is JSON text) or `extra` added.
    @Sendable static func body(
        principal: String = #""alice""#, signal: String = #""device_compromised""#, severity: String = #""high""#,
        ttl: String = "600", extra: String = ""
    ) -> String {
        #"{"principal": \#(principal), "signal": \#(signal), "severity": \#(severity), "ttl_seconds": \#(ttl)\#(extra)}"#
    }

    @Test("every refused signal names its field and changes nothing", .timeLimit(.minutes(2)))
    func refusals() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let refused: [(String, HTTPResponse.Status, String)] = [
            (Self.body(principal: #""""#), .unprocessableContent, "principal"),
            (Self.body(principal: "\"\(String(repeating: "é", count: 129))\""), .unprocessableContent, "principal"),
            (Self.body(principal: "\"\(String(repeating: "a", count: 257))\""), .unprocessableContent, "principal"),
            (Self.body(principal: #""al\u0000ice""#), .unprocessableContent, "principal"),
            (Self.body(principal: "42"), .unprocessableContent, "principal"),
            (#"{"signal": "device_compromised", "severity": "high", "ttl_seconds": 600}"#, .unprocessableContent, "principal"),
            (Self.body(signal: #""Device_Compromised""#), .unprocessableContent, "signal"),
            (Self.body(signal: #""9lives""#), .unprocessableContent, "signal"),
            (Self.body(signal: #""device-compromised""#), .unprocessableContent, "signal"),
            (Self.body(signal: "\"d\(String(repeating: "x", count: 63))\""), .unprocessableContent, "signal"),
            (Self.body(signal: #""""#), .unprocessableContent, "signal"),
            (Self.body(signal: #""stale_mfa""#), .unprocessableContent, "stale_mfa"),
            (Self.body(signal: #""break_glass""#), .unprocessableContent, "break_glass"),
            (Self.body(signal: #""new_source_ip""#), .unprocessableContent, "new_source_ip"),
            (Self.body(signal: #""risk_unavailable""#), .unprocessableContent, "risk_unavailable"),
            (Self.body(severity: #""urgent""#), .unprocessableContent, "severity"),
            (Self.body(severity: #""HIGH""#), .unprocessableContent, "severity"),
            (Self.body(ttl: "59"), .unprocessableContent, "ttl_seconds"),
            (Self.body(ttl: "2592001"), .unprocessableContent, "ttl_seconds"),
            (Self.body(ttl: "0"), .unprocessableContent, "ttl_seconds"),
            (Self.body(ttl: "-60"), .unprocessableContent, "ttl_seconds"),
            (Self.body(ttl: "600.5"), .unprocessableContent, "ttl_seconds"),
            (Self.body(ttl: #""600""#), .unprocessableContent, "ttl_seconds"),
            (Self.body(extra: #", "detail": "\#(String(repeating: "d", count: 1001))""#), .unprocessableContent, "detail"),
            (Self.body(extra: #", "detail": "bell\u0007""#), .unprocessableContent, "detail"),
            (Self.body(extra: #", "detail": 7"#), .unprocessableContent, "detail"),
            (Self.body(extra: #", "source": "crowdstrike""#), .badRequest, "source"),
            (Self.body(extra: #", "expires_at": "2099-01-01T00:00:00Z""#), .badRequest, "expires_at"),
            ("[1, 2", .badRequest, "json"),
            ("", .unprocessableContent, "principal"),
        ]
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            for (body, status, mentions) in refused {
                let answer = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: body)
                #expect(answer.status == status, "\(body.prefix(120)): \(answer.json)")
                let message = answer.json["error"]?["message"]?.stringValue ?? ""
                #expect(message.contains(mentions), "\(body.prefix(120)): \(message)")
            }
            let huge = Self.body(extra: #", "detail": "\#(String(repeating: "d", count: 70_000))""#)
            let tooLarge = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: huge)
            #expect(tooLarge.status == .contentTooLarge && tooLarge.json["error"]?["code"] == "payload_too_large")

            // The limits themselves are accepted: 256 bytes, 63 characters, 60 s and 30 days, 1,000 characters.
            let edges = [
                Self.body(principal: "\"\(String(repeating: "é", count: 128))\"", ttl: "60"),
                Self.body(signal: "\"d\(String(repeating: "x", count: 62))\"", ttl: "2592000"),
                Self.body(extra: #", "detail": "\#(String(repeating: "d", count: 1000))""#),
            ]
            for edge in edges {
                let answer = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: edge)
                #expect(answer.status == .created, "\(edge.prefix(120)): \(answer.json)")
            }

            // Refused queries of the list.
            for query in ["all=yes", "all=1", "limit=0", "limit=501", "cursor=nope", "principal="] {
                let answer = try await client.call(.get, "/v1/signals?\(query)", token: fixture.adminToken)
                #expect(answer.status == .unprocessableContent, "\(query): \(answer.json)")
            }
            let listed = try await client.call(.get, "/v1/signals?all=true", token: fixture.adminToken)
            #expect(listed.json["items"]?.arrayValue?.count == edges.count)
        }
        #expect(try await Self.events(fixture, "airlock.signal.received").count == 3)
    }

    @Test("a signal past its lifetime (the broker's clock) is neither active nor listed by default", .timeLimit(.minutes(2)))
    func expiryByTheClock() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let short = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: """
                {"principal": "alice", "signal": "impossible_travel", "severity": "medium", "ttl_seconds": 60}
                """)
            let long = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: """
                {"principal": "alice", "signal": "device_compromised", "severity": "high", "ttl_seconds": 3600}
                """)
            let shortID = try #require(short.json["id"]?.stringValue.flatMap(UUID.init(uuidString:)), "\(short.json)")
            let longID = try #require(long.json["id"]?.stringValue.flatMap(UUID.init(uuidString:)), "\(long.json)")

            try await TestDatabase.withExisting(fixture.databaseURL) { database in
                let store = SignalStore(database: database, auditLog: AuditLog(source: "test"), clock: fixture.clock)
                let before = try await store.active(for: "alice", at: fixture.clock.now())
                #expect(before.map(\.id) == [shortID, longID])
                #expect(before.first?.name == "impossible_travel" && before.first?.severity == .medium)
                #expect(before.first?.source == "token:root-admin" && before.first?.detail == nil)
                #expect(try await store.active(for: "bob", at: fixture.clock.now()).isEmpty)
                #expect(try await store.active(for: "alice", at: fixture.clock.now().addingTimeInterval(-3600)).isEmpty)
            }

            fixture.clock.advance(61)
            let listed = try await client.call(.get, "/v1/signals", token: fixture.adminToken)
            #expect(listed.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [longID.uuidString.lowercased()])
            let all = try await client.call(.get, "/v1/signals?all=true", token: fixture.adminToken)
            let statuses = all.json["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue }
            #expect(statuses == ["active", "expired"], "\(all.json)")
            try await TestDatabase.withExisting(fixture.databaseURL) { database in
                let store = SignalStore(database: database, auditLog: AuditLog(source: "test"), clock: fixture.clock)
                let now = try await store.active(for: "alice", at: fixture.clock.now())
                #expect(now.map(\.id) == [longID])
                let later = try await Signals(store: store).active(for: "alice", at: fixture.clock.now().addingTimeInterval(3600))
                #expect(later.isEmpty)
            }
        }
    }

    @Test("a signal and its audit event commit together: when the event cannot be written, nothing is stored",
          .timeLimit(.minutes(2)))
    func sameTransaction() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let kept = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: """
                {"principal": "alice", "signal": "device_compromised", "severity": "high", "ttl_seconds": 600}
                """)
            let id = try #require(kept.json["id"]?.stringValue, "\(kept.json)")
            // From now on no signal event can be written.
            try await TestDatabase.run([
                """
                CREATE FUNCTION refuse_signal_events() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'no signal events in this test'; END $$
                """,
                """
                CREATE TRIGGER refuse_signal_events BEFORE INSERT ON audit_events FOR EACH ROW
                WHEN (NEW.type LIKE 'airlock.signal.%') EXECUTE FUNCTION refuse_signal_events()
                """,
            ], on: try await TestDatabase.serverURL().with(database: fixture.databaseURL.database))
            let refused = try await client.call(.post, "/v1/signals", token: fixture.adminToken, body: """
                {"principal": "bob", "signal": "credential_leaked", "severity": "critical", "ttl_seconds": 600}
                """)
            #expect(refused.status == .internalServerError, "\(refused.json)")
            let withdraw = try await client.call(.delete, "/v1/signals/\(id)", token: fixture.adminToken)
            #expect(withdraw.status == .internalServerError, "\(withdraw.json)")
            let listed = try await client.call(.get, "/v1/signals?all=true", token: fixture.adminToken)
            let items = listed.json["items"]?.arrayValue ?? []
            #expect(items.compactMap { $0["id"]?.stringValue } == [id], "\(listed.json)")
            #expect(items.first?["status"] == "active")
        }
        #expect(try await Self.events(fixture, "airlock.signal.received").count == 1)
        #expect(try await Self.events(fixture, "airlock.signal.withdrawn").isEmpty)
    }
}
