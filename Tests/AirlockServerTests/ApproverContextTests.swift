import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 15, item 6: what approvers see beside the risk (peers with the access, first use, last uses), and what they
/// say they relied on, recorded in the review's audit event.
@Suite(.serialized)
struct ApproverContextTests {
    static let write = #"{"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix"}"#

    @Test("a pending request shows its risk, the requester's peers with the access, first use and last uses; relied_on is audited, a bad one refused",
          .timeLimit(.minutes(3)))
    func approverSeesAndSays() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let erin = try await fixture.token("erin", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dan = try await fixture.token("dan", groups: ["db-owners"])
        let sec = try await fixture.token("sec", groups: ["security"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // erin (bob's peer in backend) was granted orders-db before; bob once too.
            let erins = try await FlowSteps.approvedWrite(client, requester: erin, approvers: [carol, dan, sec], ttl: 600)
            #expect(try await FlowSteps.pickUp(client, erins, token: erin).status == .ok)
            let bobsFirst = try await FlowSteps.approvedWrite(client, requester: bob, approvers: [carol, dan, sec], ttl: 600)
            #expect(try await FlowSteps.pickUp(client, bobsFirst, token: bob).status == .ok)

            let (id, asked) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readwrite, ttl: 600)
            #expect(asked["risk"]?["score"] != nil)
            let seen = try await client.call(.get, "/v1/access-requests/\(id)", token: carol)
            let context = try #require(seen.json["approver_context"], "\(seen.json)")
            #expect(context["peers"] == 1 && context["peers_with_access"] == 1, "\(context)")
            #expect(context["first_use"] == false)
            let uses = try #require(context["last_uses"]?.arrayValue)
            #expect(uses.map { $0["request"]?.stringValue } == [bobsFirst])
            #expect(uses.first?["role"] == "readwrite" && uses.first?["ttl_seconds"] == 600)
            #expect(seen.json["risk"] == asked["risk"])
            let pending = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: carol)
            let listed = pending.json["items"]?.arrayValue?.first { $0["id"]?.stringValue == id }
            #expect(listed?["approver_context"] == context)

            // A refused relied_on changes nothing.
            for bad in [#"["vibes"]"#, #"["risk", "risk"]"#, #""risk""#, #"[1]"#] {
                let refused = try await client.call(
                    .post, "/v1/access-requests/\(id)/approve", token: carol, body: #"{"relied_on": \#(bad)}"#)
                #expect(refused.status == .unprocessableContent, "\(bad): \(refused.json)")
            }
            let still = try await client.call(.get, "/v1/access-requests/\(id)", token: carol)
            #expect(still.json["approvals"]?.arrayValue?.isEmpty == true)

            let approved = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: carol,
                                                 body: #"{"comment": "ok", "relied_on": ["peers", "last_uses"]}"#)
            #expect(approved.status == .ok, "\(approved.json)")
        }
        let reviewed = try await FlowSteps.events(fixture).filter {
            $0["type"] == "airlock.access.reviewed" && $0["data"]?["reviewer"] == "carol"
        }
        #expect(reviewed.last?["data"]?["relied_on"] == ["peers", "last_uses"], "\(reviewed)")
        #expect(reviewed.dropLast().allSatisfy { $0["data"]?["relied_on"] == nil })
    }
}
