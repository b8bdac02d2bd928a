import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// `POST /v1/decisions`: the decision a request would get, its approvers and explanation, and nothing written.
@Suite(.serialized)
struct DecisionRouteTests {
    static let readonly = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "INC-1"}"#
    static let readwrite = #"{"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix"}"#

    @Test(.timeLimit(.minutes(3)))
    func decidesLikeARequestWithoutWritingAnything() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let url = try #require(fixture.config.settings.databaseURL)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let frank = try await fixture.token("frank", groups: ["sre"])
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // One real request, reviewed by carol, so that Airlock knows a member of `db-owners`.
            let real = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.readwrite)
            let realID = try #require(real.json["id"]?.stringValue)
            let review = try await client.call(.post, "/v1/access-requests/\(realID)/approve", token: carol, body: "{}")
            #expect(review.status == .ok, "\(review.json)")
            let before = try await Self.counts(url)
            #expect(before.requests == 1)

            let permit = try await client.call(.post, "/v1/decisions", token: alice, body: Self.readonly)
            #expect(permit.status == .ok, "\(permit.json)")
            #expect(permit.json["decision"]?["decision"]?.stringValue == "permit")
            #expect(permit.json["decision"]?["ttl_seconds"]?.intValue == 1800)
            #expect(permit.json["decision"]?["rules"] == ["sre-readonly"])
            #expect(permit.json["approvers"] == nil)
            #expect(permit.json["id"] == nil && permit.json["status"] == nil)
            let permitRules = try #require(permit.json["explanation"]?.arrayValue)
            #expect(permitRules.contains { $0["rule"] == "sre-readonly" && $0["applied"] == true })
            #expect(permitRules.contains { $0["rule"] == "prod-write" && $0["applied"] == false })

            let pending = try await client.call(.post, "/v1/decisions", token: bob, body: Self.readwrite)
            #expect(pending.status == .ok, "\(pending.json)")
            #expect(pending.json["decision"]?["decision"]?.stringValue == "pending_approval")
            #expect(pending.json["decision"]?["ttl_seconds"]?.intValue == 600)
            #expect(pending.json["explanation"]?.arrayValue?.isEmpty == false)
            let owners: JSONValue = ["group": "db-owners", "count": 2, "approved_by": [], "members": ["carol"]]
            let security: JSONValue = ["group": "security", "count": 1, "approved_by": [], "members": []]
            let expected: JSONValue = [["rule": "prod-write", "requires": [owners, security]]]
            #expect(pending.json["approvers"] == expected, "\(pending.json)")

            // frank is an SRE without a recent second factor: denied, and the explanation says what is missing.
            let deny = try await client.call(.post, "/v1/decisions", token: frank, body: Self.readonly)
            #expect(deny.status == .ok, "\(deny.json)")
            #expect(deny.json["decision"]?["decision"]?.stringValue == "deny")
            #expect(deny.json["decision"]?["ttl_seconds"] == nil)
            #expect(deny.json["approvers"] == nil)
            let denied = try #require(deny.json["explanation"]?.arrayValue?.first { $0["rule"] == "sre-readonly" })
            #expect(denied["applied"] == false)
            let message = try #require(denied["message"]?.stringValue)
            #expect(message.contains("mfa_age"), "\(message)")

            let after = try await Self.counts(url)
            #expect(after == before, "a decision wrote something: \(before) → \(after)")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func anAdminMayAskForSomeoneElseAndNobodyElseMay() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let url = try #require(fixture.config.settings.databaseURL)
        let admin = try await TestDatabase.withExisting(url) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "root", scopes: ["admin"], logger: TestDatabase.logger).token
        }
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let before = try await Self.counts(url)

            let forZoe = try await client.call(.post, "/v1/decisions", token: admin, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 7200, "reason": "INC-2",
                 "principal": {"id": "zoe", "kind": "user", "groups": ["sre"], "mfa_age": 60, "on_call": false,
                               "email": "zoe@example.com"}}
                """)
            #expect(forZoe.status == .ok, "\(forZoe.json)")
            #expect(forZoe.json["decision"]?["decision"]?.stringValue == "permit")
            #expect(forZoe.json["decision"]?["ttl_seconds"]?.intValue == 3600)

            let forBob = try await client.call(.post, "/v1/decisions", token: admin, body: """
                {"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix",
                 "principal": {"id": "bob", "kind": "user", "groups": ["backend"]}}
                """)
            #expect(forBob.json["decision"]?["decision"]?.stringValue == "pending_approval", "\(forBob.json)")
            #expect(forBob.json["approvers"]?[0]?["rule"]?.stringValue == "prod-write")

            // Without `principal`, the admin would ask as itself; an admin token is no principal (no `service` scope).
            let itself = try await client.call(.post, "/v1/decisions", token: admin, body: Self.readonly)
            #expect(itself.status == .forbidden && itself.json["error"]?["code"]?.stringValue == "forbidden",
                    "\(itself.json)")

            let notAdmin = try await client.call(.post, "/v1/decisions", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r",
                 "principal": {"id": "zoe", "kind": "user", "groups": ["sre"]}}
                """)
            #expect(notAdmin.status == .forbidden, "\(notAdmin.json)")
            #expect(notAdmin.json["error"]?["code"]?.stringValue == "forbidden")

            let ask = #""resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r""#
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "admin": true}}"#, .badRequest, "unknown_field"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "groups": "sre"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "groups": ["sre", 1]}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "robot"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "mfa_age": "60"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "mfa_age": -1}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "z", "kind": "user", "on_call": "yes"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"kind": "user"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": {"id": "", "kind": "user"}}"#, .unprocessableContent, "validation_failed"),
                (#"{\#(ask), "principal": "zoe"}"#, .unprocessableContent, "validation_failed"),
            ]
            for (body, status, code) in cases {
                let answer = try await client.call(.post, "/v1/decisions", token: admin, body: body)
                #expect(answer.status == status, "\(body) → \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == code, "\(body) → \(answer.json)")
            }
            #expect(try await Self.counts(url) == before)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func badInputGetsItsErrorCode() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let url = try #require(fixture.config.settings.databaseURL)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let before = try await Self.counts(url)
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"resource": "nope", "role": "readonly", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_resource"),
                (#"{"resource": "orders-db", "role": "admin", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_role"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 0, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 999999999, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60"#, .badRequest, "malformed_json"),
                ("[1]", .badRequest, "malformed_json"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r", "id": "x"}"#, .badRequest, "unknown_field"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": "60", "reason": "r"}"#, .unprocessableContent, "validation_failed"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60}"#, .unprocessableContent, "validation_failed"),
            ]
            for (body, status, code) in cases {
                let answer = try await client.call(.post, "/v1/decisions", token: alice, body: body)
                #expect(answer.status == status, "\(body) → \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == code, "\(body) → \(answer.json)")
            }
            let anonymous = try await client.call(.post, "/v1/decisions", token: nil, body: Self.readonly)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.json["error"]?["code"]?.stringValue == "missing_token")
            #expect(try await Self.counts(url) == before)
        }
    }

    struct Counts: Equatable, CustomStringConvertible {
        var requests: Int64
        var approvals: Int64
        var events: Int64
        var description: String { "requests \(requests), approvals \(approvals), audit events \(events)" }
    }

    /// Rows in `access_requests`, `approvals` and `audit_events`.
    static func counts(_ url: DatabaseURL) async throws -> Counts {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT (SELECT count(*) FROM access_requests), (SELECT count(*) FROM approvals)", logger: TestDatabase.logger)
            let events = Int64(try await AuditReader.events(in: database).count)
            var counts = Counts(requests: -1, approvals: -1, events: -1)
            for try await (requests, approvals) in rows.decode((Int64, Int64).self) {
                counts = Counts(requests: requests, approvals: approvals, events: events)
            }
            return counts
        }
    }
}
