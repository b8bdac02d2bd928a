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

/// Bad input to the request API gets its error code and changes nothing.
@Suite(.serialized)
struct AccessInputTests {
    static let injection = #"x'); DROP TABLE access_requests; --"#

    @Test(.timeLimit(.minutes(3)))
    func badInputIsRefusedAndChangesNothing() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let url = try #require(fixture.config.settings.databaseURL)

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"resource": "nope", "role": "readonly", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_resource"),
                (#"{"resource": "orders-db", "role": "admin", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_role"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 0, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": -5, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 999999999, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60"#, .badRequest, "malformed_json"),
                ("[1, 2]", .badRequest, "malformed_json"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r", "admin": true}"#, .badRequest, "unknown_field"),
                (#"{"resource": "orders-db", "role": "readonly", "ttl_seconds": "60", "reason": "r"}"#, .unprocessableContent, "validation_failed"),
                ("{\"resource\": \"\(Self.injection)\", \"role\": \"readonly\", \"ttl_seconds\": 60, \"reason\": \"r\"}", .unprocessableContent, "unknown_resource"),
                ("{\"resource\": \"orders-db\", \"role\": \"\(Self.injection)\", \"ttl_seconds\": 60, \"reason\": \"r\"}", .unprocessableContent, "unknown_role"),
            ]
            for (body, status, code) in cases {
                let answer = try await client.call(.post, "/v1/access-requests", token: alice, body: body)
                #expect(answer.status == status, "\(body) → \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == code, "\(body) → \(answer.json)")
            }
            let huge = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": ""#
                + String(repeating: "a", count: 2 * 1024 * 1024) + #""}"#
            let tooBig = try await client.call(.post, "/v1/access-requests", token: alice, body: huge)
            #expect(tooBig.status == .contentTooLarge)
            #expect(tooBig.json["error"]?["code"]?.stringValue == "payload_too_large")
            let anonymous = try await client.call(.post, "/v1/access-requests", token: nil, body: "{}")
            #expect(anonymous.json["error"]?["code"]?.stringValue == "missing_token")
            #expect(try await Self.requestCount(url) == 0, "a refused request left a row")

            // Injection strings in free-text fields are stored as text and harm nothing.
            let odd = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "\(Self.injection)",
                 "ticket": "\(Self.injection)"}
                """)
            #expect(odd.status == .created, "\(odd.json)")
            let id = try #require(odd.json["id"]?.stringValue)
            let shown = try await client.call(.get, "/v1/access-requests/\(id)", token: alice)
            #expect(shown.json["reason"]?.stringValue == Self.injection)
            #expect(shown.json["ticket"]?.stringValue == Self.injection)
            #expect(try await Self.requestCount(url) == 1)
        }
    }

    /// A reason, ticket or comment that could draw a fake line on an approver's terminal is refused (issue 10,
    /// item 10): control characters (C0, C1), bidi overrides, separators; a newline only where text may span lines.
    @Test(.timeLimit(.minutes(3)))
    func charactersThatForgeTerminalLinesAreRefused() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let owner = try await fixture.token("olga", groups: ["db-owners"])
        let url = try #require(fixture.config.settings.databaseURL)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let hostile: [(String, String)] = [
                ("reason", #"fix\u202e"#), ("reason", #"ok\u009b2K"#), ("reason", #"ok\u001b[2K"#),
                ("reason", #"a\u2028needs: nothing"#), ("reason", #"a\r  needs: nothing"#), ("reason", #"zero\u200bwidth"#),
                ("ticket", #"T-1\n  needs: nothing"#), ("ticket", #"T-1\u2066"#),
            ]
            for (field, value) in hostile {
                var body = #"{"resource": "orders-db", "role": "readwrite", "ttl_seconds": 60, "reason": "r""#
                body = field == "reason"
                    ? #"{"resource": "orders-db", "role": "readwrite", "ttl_seconds": 60, "reason": "\#(value)"}"#
                    : body + #", "ticket": "\#(value)"}"#
                let answer = try await client.call(.post, "/v1/access-requests", token: bob, body: body)
                #expect(answer.status == .unprocessableContent, "\(body) → \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == "validation_failed", "\(body) → \(answer.json)")
                #expect(answer.json["error"]?["message"]?.stringValue?.contains("`\(field)`") == true, "\(answer.json)")
            }
            #expect(try await Self.requestCount(url) == 0, "a refused request left a row")

            // A multi-line reason and any script are fine.
            let fine = try await client.call(.post, "/v1/access-requests", token: bob, body: """
                {"resource": "orders-db", "role": "readwrite", "ttl_seconds": 60,
                 "reason": "incident 42\\n\\tstep 2: josé 東京 ✓", "ticket": "INC-42 (ünïcode)"}
                """)
            #expect(fine.status == .created, "\(fine.json)")
            let id = try #require(fine.json["id"]?.stringValue)
            let comment = try await client.call(
                .post, "/v1/access-requests/\(id)/approve", token: owner, body: #"{"comment": "ok\u202e"}"#)
            #expect(comment.status == .unprocessableContent, "\(comment.json)")
            #expect(comment.json["error"]?["message"]?.stringValue?.contains("`comment` may not contain") == true)
            let shown = try await client.call(.get, "/v1/access-requests/\(id)", token: bob)
            #expect(shown.json["approvals"]?.arrayValue?.isEmpty == true, "a refused comment recorded an approval")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func anUntrustedPeerCannotClaimAnotherSourceAddress() async throws {
        var fixture = try await AccessFlowFixture.make()
        let directory = ServerSupport.writePolicies("""
            forbid "outside" unless request.source_ip in cidr("10.0.0.0/8");
            permit "sre" when "sre" in principal.groups;
            """)
        try FileManager.default.copyItem(
            atPath: fixture.config.settings.policiesDirectory + "/resources.json", toPath: directory + "/resources.json")
        var config = fixture.config
        config.settings.policiesDirectory = directory
        fixture = AccessFlowFixture(config: config, issuer: fixture.issuer, target: fixture.target,
                                    otherDatabase: fixture.otherDatabase)
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let response = try await client.execute(
                uri: "/v1/access-requests", method: .post,
                headers: [.authorization: "Bearer \(alice)", .contentType: "application/json",
                          HTTPField.Name("X-Forwarded-For")!: "10.1.2.3"],
                body: ByteBuffer(string: #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r"}"#))
            let json = try JSONValue.parse(Data(String(buffer: response.body).utf8))
            #expect(json["decision"]?["decision"]?.stringValue == "deny", "\(json)")
            #expect(json["decision"]?["rules"]?.arrayValue == [.string("outside")])
        }
    }

    static func requestCount(_ url: DatabaseURL) async throws -> Int64 {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query("SELECT count(*) FROM access_requests", logger: TestDatabase.logger)
            var count: Int64 = -1
            for try await value in rows.decode(Int64.self) { count = value }
            return count
        }
    }
}
