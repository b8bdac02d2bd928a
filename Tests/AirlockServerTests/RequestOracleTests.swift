import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Issue 10, item 14: a request someone may not see tells them nothing of its state (no oracle), and no cache keeps
/// an answer that carries a secret. Reading and pickup answer 404; approve and deny by a person answer 403
/// `not_an_approver` (issue 12: "dave gets 403"), with the same words whatever the request's state.
@Suite(.serialized)
struct RequestOracleTests {
    @Test("read and pickup by someone who may not see the request are 404; approve and deny are 403 in words that do not depend on its state",
          .timeLimit(.minutes(3)))
    func strangersGetNotFound() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let mallory = try await fixture.token("mallory", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (pendingID, _) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readwrite, ttl: 600)
            let (deniedID, _) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readwrite, ttl: 600)
            let no = try await client.call(.post, "/v1/access-requests/\(deniedID)/deny", token: carol, body: "{}")
            #expect(no.json["status"]?.stringValue == "denied", "\(no.json)")
            let (approvedID, _) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 600)

            var messages: Set<String> = []
            for id in [pendingID, deniedID, approvedID] {
                let read = try await client.call(.get, "/v1/access-requests/\(id)", token: mallory)
                #expect(read.status == .notFound)
                for verdict in ["approve", "deny"] {
                    let answer = try await client.call(
                        .post, "/v1/access-requests/\(id)/\(verdict)", token: mallory, body: #"{"comment": "x"}"#)
                    #expect(answer.status == .forbidden && answer.json["error"]?["code"] == "not_an_approver",
                            "\(verdict) \(id): \(answer.json)")
                    let message = answer.json["error"]?["message"]?.stringValue ?? ""
                    messages.insert(message)
                    for word in ["pending", "denied", "approved", "expired", "closed", "issued"] {
                        #expect(!message.contains(word), "the answer tells its state: \(message)")
                    }
                }
            }
            #expect(messages.count == 1, "the answers differ by state: \(messages)")
            let pickup = try await FlowSteps.pickUp(client, approvedID, token: mallory)
            #expect(pickup.status == .notFound && pickup.json["error"]?["code"] == "not_found", "\(pickup.json)")

            // Nothing changed: the pending request is still pending, alice can still pick hers up.
            let still = try await client.call(.get, "/v1/access-requests/\(pendingID)", token: bob)
            #expect(still.json["status"]?.stringValue == "pending_approval" && still.json["approvals"]?.arrayValue?.isEmpty == true)
            // Someone who may see it still gets the real reason.
            let closed = try await client.call(.post, "/v1/access-requests/\(deniedID)/approve", token: carol, body: "{}")
            #expect(closed.status == .conflict && closed.json["error"]?["code"] == "request_closed", "\(closed.json)")
            let own = try await FlowSteps.pickUp(client, approvedID, token: alice)
            #expect(own.status == .ok, "\(own.json)")
        }
    }

    @Test("pickup, POST /v1/credentials and POST /v1/tokens answer with Cache-Control: no-store and Pragma: no-cache",
          .timeLimit(.minutes(3)))
    func secretsAreNotCached() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (id, _) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 600)
            let pickup = try await FlowSteps.raw(client, .get, "/v1/access-requests/\(id)/credentials", token: alice)
            let oneCall = try await FlowSteps.raw(client, .post, "/v1/credentials", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-10"}
                """)
            let token = try await FlowSteps.raw(client, .post, "/v1/tokens", token: admin, body: """
                {"name": "ci-reader", "scopes": ["auditor"]}
                """)
            for (name, response, expected) in [
                ("pickup", pickup, HTTPResponse.Status.ok), ("credentials", oneCall, .created), ("token", token, .created),
            ] {
                #expect(response.status == expected, "\(name): \(String(buffer: response.body))")
                #expect(response.headers[.cacheControl] == "no-store", "\(name): \(response.headers)")
                #expect(response.headers[HTTPField.Name("Pragma")!] == "no-cache", "\(name): \(response.headers)")
            }
        }
    }
}
