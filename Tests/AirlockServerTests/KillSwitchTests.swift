import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 10, item 6: the kill switch ends every lease and closes every open request of a principal whose id may hold
/// any character (`repo:org/app`, addressed as `repo%3Aorg%2Fapp`).
@Suite(.serialized)
struct KillSwitchTests {
    /// `text` as one path segment: every byte but unreserved ASCII percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet()
        allowed.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    @Test("revoke-all of `repo:org/app` ends its lease and closes its approved and pending requests",
          .timeLimit(.minutes(3)))
    func revokeAllClosesEverything() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let repo = try await fixture.token("repo:org/app", groups: ["sre", "backend"], mfa: true)
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dave = try await fixture.token("dave", groups: ["db-owners"])
        let admin = try await FlowSteps.adminToken(fixture)
        let closedIDs: Set<String> = try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // One lease, one approved request not picked up yet, one pending request with one approval.
            let (issuedID, _) = try await FlowSteps.ask(client, token: repo, role: FlowSteps.readonly, ttl: 1800)
            let creds = try await FlowSteps.pickUp(client, issuedID, token: repo)
            let leaseID = try #require(creds.json["lease_id"]?.stringValue, "\(creds.json)")
            let user = try #require(creds.json["username"]?.stringValue)
            let password = try #require(creds.json["password"]?.stringValue)
            let (approvedID, approved) = try await FlowSteps.ask(client, token: repo, role: FlowSteps.readonly, ttl: 600)
            #expect(approved["status"]?.stringValue == "approved")
            let (pendingID, pending) = try await FlowSteps.ask(client, token: repo, role: FlowSteps.readwrite, ttl: 600)
            #expect(pending["status"]?.stringValue == "pending_approval")
            let first = try await client.call(.post, "/v1/access-requests/\(pendingID)/approve", token: carol, body: "{}")
            #expect(first.json["status"]?.stringValue == "pending_approval", "\(first.json)")

            // The principal id as Airlock shows it, percent-encoded into the path (`:` and `/` included).
            let principal = try #require(
                try await client.call(.get, "/v1/leases/\(leaseID)", token: repo).json["principal"]?.stringValue)
            #expect(principal.contains("/"))
            let all = try await client.call(
                .post, "/v1/principals/\(Self.segment(principal))/revoke-all", token: admin, body: "{}")
            #expect(all.status == .ok, "\(all.json)")
            #expect(all.json["principal"]?.stringValue == principal)
            let ended = all.json["items"]?.arrayValue ?? []
            #expect(ended.compactMap { $0["id"]?.stringValue } == [leaseID], "\(all.json)")
            #expect(ended.allSatisfy { $0["status"] == "revoked" }, "\(ended)")
            let closed = all.json["closed_requests"]?.arrayValue ?? []
            #expect(Set(closed.compactMap { $0["id"]?.stringValue }) == [approvedID, pendingID], "\(all.json)")
            #expect(closed.allSatisfy { $0["status"] == "revoked" }, "\(closed)")
            #expect(Set(closed.compactMap { $0["previous_status"]?.stringValue }) == ["approved", "pending_approval"])

            // The login is gone; nothing approved before can be picked up, nothing pending approved after.
            #expect(await runAs(user: user, password: password, on: fixture.target, "SELECT 1") != nil)
            let pickup = try await FlowSteps.pickUp(client, approvedID, token: repo)
            #expect(pickup.status == .conflict && pickup.json["error"]?["code"] == "request_closed", "\(pickup.json)")
            let late = try await client.call(.post, "/v1/access-requests/\(pendingID)/approve", token: dave, body: "{}")
            #expect(late.status == .conflict && late.json["error"]?["code"] == "request_closed", "\(late.json)")
            for id in [approvedID, pendingID] {
                let view = try await client.call(.get, "/v1/access-requests/\(id)", token: repo)
                #expect(view.json["status"]?.stringValue == "revoked", "\(view.json)")
            }

            // A second call finds nothing more to do; a malformed escape is a clear error, changing nothing.
            let again = try await client.call(
                .post, "/v1/principals/\(Self.segment(principal))/revoke-all", token: admin, body: "{}")
            #expect(again.status == .ok && again.json["items"]?.arrayValue?.isEmpty == true
                && again.json["closed_requests"]?.arrayValue?.isEmpty == true, "\(again.json)")
            let malformed = try await client.call(.post, "/v1/principals/repo%3Aorg%2/revoke-all", token: admin, body: "{}")
            #expect(malformed.status == .unprocessableContent && malformed.json["error"]?["code"] == "validation_failed",
                    "\(malformed.json)")
            return [approvedID, pendingID]
        }
        // One audit event per closed request, naming the admin who pulled the switch.
        let revoked = try await FlowSteps.events(fixture).filter { $0["type"]?.stringValue == "airlock.access.revoked" }
        #expect(Set(revoked.compactMap { $0["subject"]?.stringValue }) == closedIDs, "\(revoked)")
        #expect(revoked.count == 2)
        #expect(revoked.allSatisfy { $0["data"]?["actor"]?.stringValue?.isEmpty == false })
        // The kill switch is routed to the security team: high, on the `security` channel, and so is the lease it ended.
        let credentials = try await FlowSteps.events(fixture).filter {
            $0["type"]?.stringValue == "airlock.credential.revoked"
        }
        for event in revoked + credentials {
            #expect(event["data"]?["severity"]?.stringValue == "high", "\(event)")
            #expect(event["data"]?["channels"]?.arrayValue?.contains("security") == true, "\(event)")
        }
        #expect(credentials.count == 1)
    }
}
