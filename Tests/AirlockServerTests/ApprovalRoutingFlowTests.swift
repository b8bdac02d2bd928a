import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 12, end to end through the API: the requester's manager and the resource's owning team approve, as the
/// policy says. bob (manager erin, team payments) asks to write to a payments-owned production database.
@Suite(.serialized)
struct ApprovalRoutingFlowTests {
    static let policies = """
        require_approval "owner-and-manager"
          when request.role == "readwrite" and resource.env == "prod" and principal has manager
          approvers user(principal.manager), group(resource.owner) count 1
          ttl <= 30m;
        """

    @Test("carol alone does not approve, erin alone does not, erin and carol do; dave gets 403; erin as her own manager waits and says why",
          .timeLimit(.minutes(3)))
    func managerAndOwningTeam() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        let app = try buildApplication(config: fixture.config)
        let issuer = fixture.issuer
        let bob = try await issuer.issueToken(user: "bob", groups: ["payments"], manager: "erin")
        let carol = try await issuer.issueToken(user: "carol", groups: ["payments"], manager: "gina")
        let frank = try await issuer.issueToken(user: "frank", groups: ["payments"], manager: "gina")
        let erin = try await issuer.issueToken(user: "erin", groups: ["payments-leads"], manager: "erin")
        let dave = try await issuer.issueToken(user: "dave", groups: ["search"], manager: "erin-2")
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)

            // bob asks: pending on erin and one member of payments, in the order written.
            let (id, asked) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readwrite, ttl: 600)
            #expect(asked["status"]?.stringValue == "pending_approval", "\(asked)")
            let requires = asked["decision"]?["approvals"]?[0]?["requires"]
            #expect(requires == (try JSONValue.parse(#"[{"user": "erin", "count": 1}, {"group": "payments", "count": 1}]"#)),
                    "\(asked)")
            let roster = asked["approvers"]?[0]?["requires"]
            #expect(roster?[0]?["members"] == .array([.string("erin")]), "\(asked)")
            #expect(roster?[0]?["unmeetable"] == nil && roster?[1]?["unmeetable"] == nil, "\(asked)")

            // Who sees it to approve: erin (named) and payments members; not dave.
            for (token, expected) in [(erin, true), (carol, true), (dave, false)] {
                let pending = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: token)
                let listed = pending.json["items"]?.arrayValue?.contains { $0["id"]?.stringValue == id } == true
                #expect(listed == expected, "\(pending.json)")
            }

            // dave is neither in payments nor bob's manager: 403 not_an_approver, nothing recorded.
            for verdict in ["approve", "deny"] {
                let refused = try await client.call(.post, "/v1/access-requests/\(id)/\(verdict)", token: dave, body: "{}")
                #expect(refused.status == .forbidden && refused.json["error"]?["code"] == "not_an_approver", "\(refused.json)")
            }

            // carol alone does not approve it.
            let byCarol = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: carol, body: #"{"comment": "ok"}"#)
            #expect(byCarol.status == .ok && byCarol.json["status"]?.stringValue == "pending_approval", "\(byCarol.json)")
            #expect(byCarol.json["approvers"]?[0]?["requires"]?[1]?["approved_by"] == .array([.string("carol")]))
            // The owning team's requirement is met: another payments member's approval would not count.
            let byFrank = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: frank, body: "{}")
            #expect(byFrank.status == .forbidden && byFrank.json["error"]?["code"] == "not_an_approver", "\(byFrank.json)")
            // erin and carol do.
            let byErin = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: erin, body: "{}")
            #expect(byErin.status == .ok && byErin.json["status"]?.stringValue == "approved", "\(byErin.json)")
            let creds = try await FlowSteps.pickUp(client, id, token: bob)
            #expect(creds.status == .ok, "\(creds.json)")

            // erin alone does not approve another of bob's requests.
            let (second, _) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readwrite, ttl: 600)
            let erinAlone = try await client.call(.post, "/v1/access-requests/\(second)/approve", token: erin, body: "{}")
            #expect(erinAlone.status == .ok && erinAlone.json["status"]?.stringValue == "pending_approval", "\(erinAlone.json)")
            #expect(erinAlone.json["approvers"]?[0]?["requires"]?[0]?["approved_by"] == .array([.string("erin")]))

            // erin, whose manager is erin, asks: the request waits, and says why it can never be approved.
            let (own, ownAsked) = try await FlowSteps.ask(client, token: erin, role: FlowSteps.readwrite, ttl: 600)
            #expect(ownAsked["status"]?.stringValue == "pending_approval", "\(ownAsked)")
            let reason = ownAsked["approvers"]?[0]?["requires"]?[0]?["unmeetable"]?.stringValue ?? ""
            #expect(reason.contains("erin") && reason.contains("requester"), "\(ownAsked)")
            #expect(ownAsked["approvers"]?[0]?["requires"]?[0]?["members"] == .array([]), "\(ownAsked)")
            let selfApproval = try await client.call(.post, "/v1/access-requests/\(own)/approve", token: erin, body: "{}")
            #expect(selfApproval.status == .forbidden && selfApproval.json["error"]?["code"] == "self_approval")
            let ownByCarol = try await client.call(.post, "/v1/access-requests/\(own)/approve", token: carol, body: "{}")
            #expect(ownByCarol.json["status"]?.stringValue == "pending_approval", "\(ownByCarol.json)")
            let view = try await client.call(.get, "/v1/access-requests/\(own)", token: erin)
            #expect(view.json["status"]?.stringValue == "pending_approval")
            #expect(view.json["approvers"]?[0]?["requires"]?[0]?["unmeetable"]?.stringValue == reason, "\(view.json)")
        }
        let brokerURL = try #require(fixture.config.settings.databaseURL)
        let approved = try await AuditReader.events(at: brokerURL, type: "airlock.access.approved")
        let event = try JSONValue.parse(try #require(approved.first).event)
        let approvers = event["data"]?["approvers"]
        #expect(approvers?["erin"] == (try JSONValue.parse(#"{"user": "erin", "count": 1}"#)), "\(approved)")
        #expect(approvers?["carol"] == (try JSONValue.parse(#"{"group": "payments", "count": 1}"#)), "\(approved)")
    }
}
