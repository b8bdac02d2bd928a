import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 10, item 18 (in part): a failed issuance tells the requester nothing about the target (its host and admin
/// user are for operators, in the log and the audit chain), and `GET /v1/leases` pages.
@Suite(.serialized)
struct LeaseLeakTests {
    @Test("issuance_failed names neither the target's host nor its admin user; operators find them in the audit chain",
          .timeLimit(.minutes(2)))
    func issuanceFailureIsGenericToTheRequester() async throws {
        let fixture = try await AccessFlowFixture.make()
        var config = fixture.config
        let port = try FreePort.find()  // nothing listens there: every mint fails
        let adminUser = "airlock_target_admin_7f3q"
        config.environment["T_PORT"] = "\(port)"
        config.environment["T_USER"] = adminUser
        let target = "127.0.0.1:\(port)"
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (id, _) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 600)
            let pickup = try await FlowSteps.raw(client, .get, "/v1/access-requests/\(id)/credentials", token: alice)
            let oneCall = try await FlowSteps.raw(client, .post, "/v1/credentials", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600}
                """)
            for response in [pickup, oneCall] {
                let body = String(buffer: response.body)
                #expect(response.status == .badGateway, "\(body)")
                #expect(body.contains("issuance_failed"), "\(body)")
                #expect(!body.contains(target) && !body.contains(adminUser), "the answer names the target: \(body)")
            }
            // The owner's view of the lease says only that something failed.
            let owner = try await client.call(.get, "/v1/leases", token: alice)
            #expect(owner.json["items"]?.arrayValue?.count == 2, "\(owner.json)")
            #expect(!"\(owner.json)".contains(target) && !"\(owner.json)".contains(adminUser), "\(owner.json)")
            // Operators see the lease's own error.
            let operators = try await client.call(.get, "/v1/leases", token: admin)
            #expect(operators.json["items"]?.arrayValue?.allSatisfy { $0["last_error"] != .null } == true, "\(operators.json)")
        }
        let failures = try await FlowSteps.events(fixture).filter {
            $0["type"]?.stringValue == "airlock.credential.issuance_failed"
        }
        #expect(failures.count == 2, "\(failures)")
        #expect(failures.allSatisfy { event in
            let error = event["data"]?["error"]?.stringValue ?? ""
            return error.contains(target) && error.contains(adminUser)
        }, "\(failures)")
    }

    @Test("GET /v1/leases pages with limit and cursor, newest first; bad values are 422", .timeLimit(.minutes(2)))
    func leasesPage() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let mallory = try await fixture.token("mallory", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            var issued: [String] = []
            for _ in 0..<3 {
                let (id, _) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 600)
                issued.append(try #require(try await FlowSteps.pickUp(client, id, token: alice).json["lease_id"]?.stringValue))
            }
            let first = try await client.call(.get, "/v1/leases?limit=2", token: alice)
            #expect(first.status == .ok, "\(first.json)")
            let firstIDs = first.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(firstIDs == [issued[2], issued[1]], "\(first.json)")
            let cursor = try #require(first.json["next_cursor"]?.stringValue, "\(first.json)")
            #expect(cursor == issued[1])
            let second = try await client.call(.get, "/v1/leases?limit=2&cursor=\(cursor)", token: alice)
            #expect(second.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [issued[0]], "\(second.json)")
            #expect(second.json["next_cursor"] == .null)
            let whole = try await client.call(.get, "/v1/leases", token: alice)
            #expect(whole.json["items"]?.arrayValue?.count == 3 && whole.json["next_cursor"] == .null, "\(whole.json)")

            // Someone else's cursor shows nothing of alice's.
            let stranger = try await client.call(.get, "/v1/leases?cursor=\(issued[2])", token: mallory)
            #expect(stranger.status == .ok && stranger.json["items"]?.arrayValue?.isEmpty == true, "\(stranger.json)")

            for query in ["limit=0", "limit=501", "limit=abc", "limit=-1", "limit=", "cursor=nope", "cursor="] {
                let bad = try await client.call(.get, "/v1/leases?\(query)", token: alice)
                #expect(bad.status == .unprocessableContent && bad.json["error"]?["code"] == "validation_failed",
                        "\(query): \(bad.json)")
            }
        }
    }
}
