import AirlockCore
import AirlockServer
import AirlockStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// `POST /v1/webhooks`, `GET /v1/webhooks`, `DELETE /v1/webhooks/{id}` through the real HTTP server and PostgreSQL:
/// who may call them, hostile URLs, and a secret that is shown once and nowhere else.
@Suite(.serialized)
struct WebhookRoutesTests {
    @Test("an admin adds, lists and removes endpoints; the whsec_ secret is shown once and never logged, listed or audited",
          .timeLimit(.minutes(2)))
    func adminLifecycle() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        let root = fixture.adminToken
        let secret = try await app.test(.live) { client -> String in
            try await ServerSupport.waitUntilReady(client)
            let response = try await client.execute(
                uri: "/v1/webhooks", method: .post,
                headers: [.authorization: "Bearer \(root)", .contentType: "application/json"],
                body: ByteBuffer(string: #"""
                    {"url": "https://siem.example.com/airlock", "description": "SIEM",
                     "event_types": ["airlock.credential.", "airlock.credential."], "channels": ["security"],
                     "min_severity": "medium"}
                    """#))
            #expect(response.status == .created, "\(String(buffer: response.body))")
            #expect(response.headers[.cacheControl] == "no-store")
            let created = try JSONValue.parse(Data(String(buffer: response.body).utf8))
            let secret = try #require(created["secret"]?.stringValue)
            let parsed = try WebhookSecret(parsing: secret)
            #expect(parsed.bytes.count == 32)
            #expect(created["event_types"] == .array([.string("airlock.credential.")]))
            #expect(created["min_severity"]?.stringValue == "medium" && created["signing"]?.stringValue == "hmac")
            #expect(created["status"]?.stringValue == "active" && created["created_by"]?.stringValue == "token:root-admin")
            let id = try #require(created["id"]?.stringValue)

            let signed = try await client.call(
                .post, "/v1/webhooks", token: root,
                body: #"{"url": "https://receiver.example.com/hook", "signing": "ed25519"}"#)
            #expect(signed.status == .created, "\(signed.json)")
            #expect(signed.json["secret"] == nil)
            let publicKey = try #require(signed.json["public_key"]?.stringValue)
            #expect(publicKey.hasPrefix("whpk_") && (try? WebhookPublicKey(parsing: publicKey)) != nil)

            // Rotating an ed25519 endpoint: a new public key, the answer never cached, no secret.
            let rotation = try await client.execute(
                uri: "/v1/webhooks/\(try #require(signed.json["id"]?.stringValue))/rotate", method: .post,
                headers: [.authorization: "Bearer \(root)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"window_seconds": 600}"#))
            #expect(rotation.status == .ok && rotation.headers[.cacheControl] == "no-store")
            let rotated = try JSONValue.parse(Data(String(buffer: rotation.body).utf8))
            #expect(rotated["secret"] == nil && rotated["rotation_ends_at"]?.stringValue != nil)
            let newKey = try #require(rotated["public_key"]?.stringValue)
            #expect(newKey != publicKey && (try? WebhookPublicKey(parsing: newKey)) != nil)

            // null is "absent" for every optional field, as Docs/openapi.yaml declares: the defaults apply.
            let nulls = try await client.call(
                .post, "/v1/webhooks", token: root,
                body: #"{"url": "https://nulls.example.com/hook", "description": null, "event_types": null, "channels": null, "min_severity": null, "signing": null}"#)
            #expect(nulls.status == .created, "\(nulls.json)")
            #expect(nulls.json["signing"]?.stringValue == "hmac" && nulls.json["min_severity"]?.stringValue == "info")
            #expect(nulls.json["event_types"] == .array([]) && nulls.json["description"]?.stringValue == "")
            let nullsID = try #require(nulls.json["id"]?.stringValue)
            #expect(try await client.call(.delete, "/v1/webhooks/\(nullsID)", token: root).status == .noContent)

            let listing = try await client.execute(uri: "/v1/webhooks", method: .get, headers: [.authorization: "Bearer \(root)"])
            let listText = String(buffer: listing.body)
            #expect(listing.status == .ok)
            #expect(!listText.contains(secret) && !listText.contains(String(secret.dropFirst(6))) && !listText.contains("whsec_"))
            let items = try #require(try JSONValue.parse(Data(listText.utf8))["items"]?.arrayValue)
            #expect(items.map { $0["id"]?.stringValue } == [id, signed.json["id"]?.stringValue])
            #expect(items[1]["public_key"]?.stringValue == newKey)

            let removed = try await client.execute(
                uri: "/v1/webhooks/\(id)", method: .delete, headers: [.authorization: "Bearer \(root)"])
            #expect(removed.status == .noContent)
            let again = try await client.call(.delete, "/v1/webhooks/\(id)", token: root)
            #expect(again.status == .notFound && again.json["error"]?["code"]?.stringValue == "not_found")
            let notAnID = try await client.call(.delete, "/v1/webhooks/not-a-uuid", token: root)
            #expect(notAnID.status == .notFound)
            return secret
        }
        let events = try await fixture.auditEvents()
        #expect(events.contains { $0.contains(#""type":"airlock.webhook.created""#) })
        #expect(events.contains { $0.contains(#""type":"airlock.webhook.deleted""#) })
        for haystack in events + fixture.logs.all {
            #expect(!haystack.contains(secret) && !haystack.contains(String(secret.dropFirst(6))), "the secret leaked: \(haystack.prefix(200))")
        }
    }

    @Test("only admins manage webhooks: auditors, services and people get 403 before the body is read",
          .timeLimit(.minutes(2)))
    func onlyAdmins() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let auditor = try await client.call(
                .post, "/v1/tokens", token: fixture.adminToken, body: #"{"name": "audit", "scopes": ["auditor"]}"#)
            let service = try await client.call(
                .post, "/v1/tokens", token: fixture.adminToken, body: #"{"name": "ci", "scopes": ["service"]}"#)
            let person = try await fixture.issuer.issueToken(user: "alice", groups: ["security"])
            for token in [auditor.json["token"]?.stringValue, service.json["token"]?.stringValue, person] {
                let token = try #require(token)
                let add = try await client.call(.post, "/v1/webhooks", token: token, body: "{not json")
                #expect(add.status == .forbidden, "\(add.json)")
                #expect(try await client.call(.get, "/v1/webhooks", token: token).status == .forbidden)
                #expect(try await client.call(.delete, "/v1/webhooks/\(UUID())", token: token).status == .forbidden)
                let replay = try await client.call(
                    .post, "/v1/webhooks/\(UUID())/replay", token: token, body: #"{"dead_letters": true}"#)
                #expect(replay.status == .forbidden, "\(replay.json)")
                #expect(try await client.call(.post, "/v1/webhooks/\(UUID())/test", token: token).status == .forbidden)
            }
            #expect(try await client.call(.get, "/v1/webhooks", token: nil).status == .unauthorized)
        }
    }

    @Test("hostile or malformed endpoints are refused and change nothing", .timeLimit(.minutes(2)))
    func refusals() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let refused: [(body: String, status: HTTPResponse.Status, mentions: String)] = [
                (#"{"url": "http://siem.example.com/hook"}"#, .unprocessableContent, "https"),
                (#"{"url": "http://127.0.0.1:9000/hook"}"#, .unprocessableContent, "https"),
                (#"{"url": "https://169.254.169.254/latest/meta-data"}"#, .unprocessableContent, "169.254.0.0/16"),
                (#"{"url": "https://10.1.2.3/hook"}"#, .unprocessableContent, "10.0.0.0/8"),
                (#"{"url": "https://[::ffff:192.168.1.1]/hook"}"#, .unprocessableContent, "192.168.0.0/16"),
                (#"{"url": "https://[fd00::1]/hook"}"#, .unprocessableContent, "fc00::/7"),
                (#"{"url": "https://localhost/hook"}"#, .unprocessableContent, "loopback"),
                (#"{"url": "https://admin:hunter2@siem.example.com/hook"}"#, .unprocessableContent, "credentials"),
                (#"{"url": "https://siem.example.com/hook#x"}"#, .unprocessableContent, "fragment"),
                (#"{"url": "file:///etc/passwd"}"#, .unprocessableContent, "https"),
                (#"{"url": "https://siem.example.com/hook", "min_severity": "urgent"}"#, .unprocessableContent, "min_severity"),
                (#"{"url": "https://siem.example.com/hook", "signing": "rsa"}"#, .unprocessableContent, "signing"),
                (#"{"url": "https://siem.example.com/hook", "event_types": ["Airlock.*"]}"#, .unprocessableContent, "event_types"),
                (#"{"url": "https://siem.example.com/hook", "secret": "whsec_mine"}"#, .badRequest, "secret"),
                (#"{"url": 42}"#, .unprocessableContent, "url"),
                (#"{"description": "no url"}"#, .unprocessableContent, "url"),
                ("[1, 2", .badRequest, "json"),
            ]
            for (body, status, mentions) in refused {
                let answer = try await client.call(.post, "/v1/webhooks", token: fixture.adminToken, body: body)
                #expect(answer.status == status, "\(body): \(answer.json)")
                let message = answer.json["error"]?["message"]?.stringValue ?? ""
                #expect(message.contains(mentions), "\(body): \(message)")
                #expect(!message.contains("hunter2"), "the error repeats the url's password")
            }
            let listing = try await client.call(.get, "/v1/webhooks", token: fixture.adminToken)
            #expect(listing.json["items"] == .array([]))

            // Replays and tests: hostile bodies and ids.
            let added = try await client.call(
                .post, "/v1/webhooks", token: fixture.adminToken, body: #"{"url": "https://siem.example.com/hook"}"#)
            let id = try #require(added.json["id"]?.stringValue)
            let replays: [(String, String, HTTPResponse.Status)] = [
                (id, "{}", .unprocessableContent),
                (id, #"{"dead_letters": true, "since": "2026-12-01T00:00:00Z"}"#, .unprocessableContent),
                (id, #"{"from_sequence": 0}"#, .unprocessableContent),
                (id, #"{"to_sequence": 0}"#, .unprocessableContent),
                (id, #"{"from_sequence": 9, "to_sequence": 3}"#, .unprocessableContent),
                (id, #"{"from_sequence": "1"}"#, .unprocessableContent),
                (id, #"{"since": "yesterday"}"#, .unprocessableContent),
                // Fields out of range are refused, not rolled over into the next hour or month.
                (id, #"{"since": "2024-01-01T12:99:00Z"}"#, .unprocessableContent),
                (id, #"{"until": "2024-02-30T12:00:00Z"}"#, .unprocessableContent),
                (id, #"{"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}"#, .unprocessableContent),
                (id, #"{"dead_letters": true, "everything": true}"#, .badRequest),
                (UUID().uuidString, #"{"dead_letters": true}"#, .notFound),
                ("..%2F..%2Fv1%2Ftokens", #"{"dead_letters": true}"#, .notFound),
            ]
            for (target, body, status) in replays {
                let answer = try await client.call(
                    .post, "/v1/webhooks/\(target)/replay", token: fixture.adminToken, body: body)
                #expect(answer.status == status, "\(target) \(body): \(answer.json)")
            }
            #expect(try await client.call(.post, "/v1/webhooks/\(UUID())/test", token: fixture.adminToken).status == .notFound)
        }
        let events = try await fixture.auditEvents()
        #expect(events.filter { $0.contains("airlock.webhook.created") }.count == 1)  // the one valid endpoint
        #expect(!events.contains { $0.contains("airlock.webhook.replayed") })  // refused replays change nothing
        #expect(!fixture.logs.all.contains { $0.contains("hunter2") })
    }
}
