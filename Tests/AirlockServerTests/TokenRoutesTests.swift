import AirlockCore
import AirlockServer
import AirlockStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// `POST /v1/tokens`, `GET /v1/tokens`, `DELETE /v1/tokens/{id}` through the real HTTP server and PostgreSQL.
@Suite(.serialized)
struct TokenRoutesTests {
    @Test(.timeLimit(.minutes(2)))
    func anAdminCreatesListsAndRevokesATokenWhichIsRefusedAtOnce() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let root = fixture.adminToken
        let (deployer, ops, deployerID) = try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)

            // Created: the secret once, no-store; scopes and groups deduplicated.
            let response = try await client.execute(
                uri: "/v1/tokens", method: .post,
                headers: [.authorization: "Bearer \(root)", .contentType: "application/json"],
                body: ByteBuffer(string: #"""
                    {"name": "deployer", "scopes": ["service", "service"], "groups": ["ci", "ci"], "ttl_seconds": 3600}
                    """#))
            #expect(response.status == .created, "\(String(buffer: response.body))")
            #expect(response.headers[.cacheControl] == "no-store")
            let created = try JSONValue.parse(Data(String(buffer: response.body).utf8))
            let deployer = try #require(created["token"]?.stringValue)
            let deployerID = try #require(created["id"]?.stringValue)
            #expect(ApiTokenFormat.parse(deployer)?.prefix == .airlock)
            #expect(created["name"]?.stringValue == "deployer")
            #expect(created["scopes"] == .array([.string("service")]))
            #expect(created["groups"] == .array([.string("ci")]))
            #expect(created["last_used_at"] == .null)
            #expect(created["revoked_at"] == .null)
            let createdAt = try #require(created["created_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            let expiresAt = try #require(created["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSince(createdAt) - 3600) < 1)

            // The new token works at once, as the service principal `token:deployer`.
            let used = try await client.call(.get, "/v1/leases", token: deployer)
            #expect(used.status == .ok, "\(used.json)")

            // An admin token made over the API can manage tokens too.
            let opsAnswer = try await client.call(
                .post, "/v1/tokens", token: root, body: #"{"name": "ops", "scopes": ["admin", "auditor"]}"#)
            #expect(opsAnswer.status == .created, "\(opsAnswer.json)")
            #expect(opsAnswer.json["expires_at"] == .null)
            let ops = try #require(opsAnswer.json["token"]?.stringValue)

            // The list: every token, with its last use, and no secret in any form.
            let listing = try await client.execute(
                uri: "/v1/tokens", method: .get, headers: [.authorization: "Bearer \(ops)"])
            #expect(listing.status == .ok)
            let listText = String(buffer: listing.body)
            #expect(!listText.contains("alk_"), "the list shows a token")
            for secret in [root, deployer, ops].flatMap(secretForms(of:)) where listText.contains(secret) {
                Issue.record("the list shows a secret: \(listText.prefix(300))")
            }
            let items = try #require(try JSONValue.parse(Data(listText.utf8))["items"]?.arrayValue)
            #expect(items.count == 3)
            #expect(items.allSatisfy { $0["token"] == nil && $0["token_hash"] == nil })
            let listed = try #require(items.first { $0["id"]?.stringValue == deployerID })
            #expect(listed["name"]?.stringValue == "deployer")
            #expect(listed["last_used_at"]?.stringValue != nil, "the use of the token is not shown")
            #expect(listed["revoked_at"] == .null)

            // Revoked: 204, and the very next request with the token is refused.
            let revoked = try await client.execute(
                uri: "/v1/tokens/\(deployerID)", method: .delete, headers: [.authorization: "Bearer \(ops)"])
            #expect(revoked.status == .noContent)
            #expect(revoked.body.readableBytes == 0)
            let refused = try await client.call(.get, "/v1/leases", token: deployer)
            #expect(refused.status == .unauthorized)
            #expect(refused.json["error"]?["code"]?.stringValue == "token_revoked")
            let again = try await client.call(.delete, "/v1/tokens/\(deployerID)", token: root)
            #expect(again.status == .noContent, "revoking twice is not idempotent: \(again.json)")
            let after = try await client.call(.get, "/v1/tokens", token: root)
            let entry = after.json["items"]?.arrayValue?.first { $0["id"]?.stringValue == deployerID }
            #expect(entry?["revoked_at"]?.stringValue != nil)
            return (deployer, ops, deployerID)
        }

        // Audited once each, with the calling admin as actor; no secret in any event or log line.
        let events = try await fixture.auditEvents()
        let aboutDeployer = events.filter { $0.contains(deployerID) }
        #expect(aboutDeployer.count == 2, "\(aboutDeployer)")
        #expect(aboutDeployer.contains { $0.contains("airlock.token.created") && $0.contains(#""token:root-admin""#) })
        #expect(aboutDeployer.contains { $0.contains("airlock.token.revoked") && $0.contains(#""token:ops""#) })
        let logs = fixture.logs.all
        #expect(logs.contains { $0.contains("api token created") })
        #expect(logs.contains { $0.contains("api token revoked") && $0.contains(deployerID) })
        for secret in [root, deployer, ops].flatMap(secretForms(of:)) {
            for text in events + logs where text.contains(secret) {
                Issue.record("a token secret leaked into: \(text.prefix(200))")
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func onlyAdminTokensMayManageTokens() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let root = fixture.adminToken
        let user = try await fixture.issuer.issueToken(user: "alice", groups: ["admin", "security"], mfa: true)
        let workload = try await fixture.issuer.issueToken(user: "ci-runner", groups: ["admin"], service: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            var tokens: [String: (id: String, token: String)] = [:]
            for (name, scopes) in [("svc", #"["service"]"#), ("audit", #"["auditor", "introspect"], "audience": "a""#)] {
                let made = try await client.call(
                    .post, "/v1/tokens", token: root, body: #"{"name": "\#(name)", "scopes": \#(scopes)}"#)
                tokens[name] = (try #require(made.json["id"]?.stringValue), try #require(made.json["token"]?.stringValue))
            }
            let svc = try #require(tokens["svc"])
            let callers = [("a person (jwt)", user), ("a workload (jwt)", workload), ("a service token", svc.token),
                           ("an auditor token", try #require(tokens["audit"]).token)]
            for (who, token) in callers {
                let attempts: [(HTTPRequest.Method, String, String?)] = [
                    (.post, "/v1/tokens", #"{"name": "mine", "scopes": ["admin"]}"#),
                    (.post, "/v1/tokens", #"{"name": "#),   // the caller is refused before the body is read
                    (.get, "/v1/tokens", nil),
                    (.delete, "/v1/tokens/\(svc.id)", nil),
                    (.delete, "/v1/tokens/\(UUID().uuidString)", nil),
                ]
                for (method, uri, body) in attempts {
                    let answer = try await client.call(method, uri, token: token, body: body)
                    #expect(answer.status == .forbidden, "\(who): \(method) \(uri) → \(answer.status)")
                    #expect(answer.json["error"]?["code"]?.stringValue == "forbidden", "\(who): \(answer.json)")
                }
            }
            for (method, uri) in [(HTTPRequest.Method.post, "/v1/tokens"), (.get, "/v1/tokens"),
                                  (.delete, "/v1/tokens/\(svc.id)")] {
                let anonymous = try await client.call(method, uri, token: nil)
                #expect(anonymous.status == .unauthorized)
                #expect(anonymous.json["error"]?["code"]?.stringValue == "missing_token")
            }

            // Nothing was made or revoked by the refused calls: the service token still works.
            let listed = try await client.call(.get, "/v1/tokens", token: root)
            let items = try #require(listed.json["items"]?.arrayValue)
            #expect(items.compactMap { $0["name"]?.stringValue }.sorted() == ["audit", "root-admin", "svc"])
            #expect(items.allSatisfy { $0["revoked_at"] == .null })
            #expect(try await client.call(.get, "/v1/leases", token: svc.token).status == .ok)
        }
    }

    /// Each bad body and its code; none of them creates a token.
    static let badBodies: [(body: String, status: HTTPResponse.Status, code: String, mentions: String?)] = [
        (#"{"name": "x", "scopes": ["superuser"]}"#, .unprocessableContent, "validation_failed", "`superuser`"),
        (#"{"name": "x", "scopes": ["admin", "root"]}"#, .unprocessableContent, "validation_failed", "`root`"),
        (#"{"name": "x", "scopes": []}"#, .unprocessableContent, "validation_failed", "`scopes`"),
        (#"{"name": "x"}"#, .unprocessableContent, "validation_failed", "`scopes`"),
        (#"{"name": "x", "scopes": "admin"}"#, .unprocessableContent, "validation_failed", "`scopes`"),
        (#"{"name": "x", "scopes": [1]}"#, .unprocessableContent, "validation_failed", "`scopes`"),
        (#"{"scopes": ["admin"]}"#, .unprocessableContent, "validation_failed", "`name`"),
        (#"{"name": "  ", "scopes": ["admin"]}"#, .unprocessableContent, "validation_failed", "`name`"),
        (#"{"name": "a\u0000b", "scopes": ["admin"]}"#, .unprocessableContent, "validation_failed", "`name`"),
        // Lengths count code points, as Docs/openapi.yaml's maxLength does: 65 here, though 64 grapheme clusters.
        (#"{"name": "e\u0301\#(String(repeating: "n", count: 63))", "scopes": ["admin"]}"#, .unprocessableContent,
         "validation_failed", "`name`"),
        (#"{"name": "\#(String(repeating: "n", count: 65))", "scopes": ["admin"]}"#, .unprocessableContent,
         "validation_failed", "`name`"),
        (#"{"name": "x", "scopes": ["admin"], "ttl_seconds": 0}"#, .unprocessableContent, "invalid_ttl", nil),
        (#"{"name": "x", "scopes": ["admin"], "ttl_seconds": -60}"#, .unprocessableContent, "invalid_ttl", nil),
        (#"{"name": "x", "scopes": ["admin"], "ttl_seconds": 31622401}"#, .unprocessableContent, "invalid_ttl", nil),
        (#"{"name": "x", "scopes": ["admin"], "ttl_seconds": "1h"}"#, .unprocessableContent, "validation_failed",
         "`ttl_seconds`"),
        (#"{"name": "x", "scopes": ["service"], "groups": ["Ops Team"]}"#, .unprocessableContent,
         "validation_failed", "`Ops Team`"),
        (#"{"name": "x", "scopes": ["service"], "groups": ["ok", "-bad"]}"#, .unprocessableContent,
         "validation_failed", "`-bad`"),
        (#"{"name": "x", "scopes": ["service"], "groups": "ci"}"#, .unprocessableContent, "validation_failed",
         "`groups`"),
        (#"{"name": "x", "scopes": ["admin"], "role": "root"}"#, .badRequest, "unknown_field", "`role`"),
        (#"{"name": "x", "scopes": ["admin"]"#, .badRequest, "malformed_json", nil),
        (#"["admin"]"#, .badRequest, "malformed_json", nil),
        ("", .unprocessableContent, "validation_failed", "`name`"),
        (#"{"name": "\#(String(repeating: "x", count: 70_000))", "scopes": ["admin"]}"#, .contentTooLarge,
         "payload_too_large", nil),
    ]

    @Test(.timeLimit(.minutes(2)))
    func badInputIsRefusedWithItsCode() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let root = fixture.adminToken
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            for (body, status, code, mentions) in Self.badBodies {
                let answer = try await client.call(.post, "/v1/tokens", token: root, body: body)
                let shown = body.prefix(80)
                #expect(answer.status == status, "\(shown) → \(answer.status) \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == code, "\(shown) → \(answer.json)")
                if let mentions {
                    let message = answer.json["error"]?["message"]?.stringValue ?? ""
                    #expect(message.contains(mentions), "\(shown) → \(message)")
                }
            }
            // Ids: anything that is not the id of a token is 404, a non-UUID included.
            for id in ["not-a-uuid", UUID().uuidString, "1"] {
                let answer = try await client.call(.delete, "/v1/tokens/\(id)", token: root)
                #expect(answer.status == .notFound, "\(id) → \(answer.status)")
                #expect(answer.json["error"]?["code"]?.stringValue == "not_found")
            }
            let listed = try await client.call(.get, "/v1/tokens", token: root)
            #expect(listed.json["items"]?.arrayValue?.count == 1, "a refused body created a token: \(listed.json)")

            // The longest lifetime is accepted.
            let longest = try await client.call(
                .post, "/v1/tokens", token: root, body: #"{"name": "long", "scopes": ["auditor"], "ttl_seconds": 31622400}"#)
            #expect(longest.status == .created, "\(longest.json)")
            // Not blank: a space with a combining mark has a code point that is not white space.
            let accent = try await client.call(
                .post, "/v1/tokens", token: root, body: #"{"name": " \u0301", "scopes": ["auditor"]}"#)
            #expect(accent.status == .created, "\(accent.json)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func anExpiredTokenIsRefused() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let root = fixture.adminToken
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let made = try await client.call(
                .post, "/v1/tokens", token: root, body: #"{"name": "brief", "scopes": ["service"], "ttl_seconds": 60}"#)
            let token = try #require(made.json["token"]?.stringValue)
            #expect(try await client.call(.get, "/v1/leases", token: token).status == .ok)
            fixture.clock.advance(61)
            let late = try await client.call(.get, "/v1/leases", token: token)
            #expect(late.status == .unauthorized)
            #expect(late.json["error"]?["code"]?.stringValue == "token_expired")
            // A token without a ttl does not expire.
            #expect(try await client.call(.get, "/v1/tokens", token: root).status == .ok)
        }
    }
}
