import AirlockBroker
import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// `approvals.mfa_max_age_seconds`: approving access to production needs a second factor proven recently, through
/// the API and in the console, and a refusal records nothing.
@Suite
struct ApprovalMFATests {
    static let askWrite = """
        {"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix order 42"}
        """

    @Test("an approver without a second factor, or with one older than the limit, is refused and nothing is recorded; a fresh one approves; denying needs none",
          .timeLimit(.minutes(3)))
    func approvalsNeedAFreshSecondFactor() async throws {
        let fixture = try await AccessFlowFixture.make()
        let clock = TestClock.followingSystemTime()
        var config = fixture.config
        config.clock = clock
        config.settings.approvalMFA = ApprovalMFARequirement(maximumAgeSeconds: 900)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let dave = try await fixture.token("dave", groups: ["db-owners"], mfa: true)
        let carol = try await fixture.token("carol", groups: ["db-owners"], mfa: true)
        let erin = try await fixture.token("erin", groups: ["security"])
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.askWrite)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")

            // No second factor at all.
            let none = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: erin, body: "{}")
            #expect(none.status == .forbidden)
            #expect(none.json["error"]?["code"] == "fresh_mfa_required")
            #expect(none.json["error"]?["message"]?.stringValue?.contains("your sign-in shows none") == true, "\(none.json)")
            #expect(none.json["mfa_max_age_seconds"] == 900)

            // A fresh one.
            let fresh = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: dave, body: "{}")
            #expect(fresh.status == .ok, "\(fresh.json)")

            // Twenty minutes later carol's second factor is too old.
            clock.advance(20 * 60)
            let stale = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: carol, body: "{}")
            #expect(stale.status == .forbidden)
            #expect(stale.json["error"]?["message"]?.stringValue?.contains("yours was 20m ago") == true, "\(stale.json)")
            #expect(stale.json["mfa_age_seconds"]?.intValue.map { $0 >= 1200 } == true)

            // Only dave's review was recorded.
            let seen = try await client.call(.get, "/v1/access-requests/\(id)", token: bob)
            #expect(seen.json["approvals"]?.arrayValue?.count == 1, "\(seen.json)")
            #expect(seen.json["status"] == "pending_approval")

            // Denying lets nobody in: it needs no second factor.
            let denied = try await client.call(.post, "/v1/access-requests/\(id)/deny", token: erin, body: #"{"comment": "no"}"#)
            #expect(denied.status == .ok, "\(denied.json)")
            #expect(denied.json["status"] == "denied")
        }
    }

    @Test("without the setting, an approver without a second factor approves as before", .timeLimit(.minutes(3)))
    func withoutTheSettingNothingChanges() async throws {
        let fixture = try await AccessFlowFixture.make()
        let bob = try await fixture.token("bob", groups: ["backend"])
        let erin = try await fixture.token("erin", groups: ["security"])
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.askWrite)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
            let approved = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: erin, body: "{}")
            #expect(approved.status == .ok, "\(approved.json)")
        }
    }

    @Test("in the console: the queue says a second factor is needed and offers a fresh sign-in; approving without one is refused with that prompt; after a sign-in with one it goes through",
          .timeLimit(.minutes(3)))
    func theConsolePromptsForASecondFactor() async throws {
        var configured = try await ConsoleFixture.make()
        configured.config.settings.approvalMFA = ApprovalMFARequirement(maximumAgeSeconds: 900)
        let fixture = configured
        defer { fixture.proxy.stop() }
        let bob = try await fixture.flow.token("bob", groups: ["backend"])
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.askWrite)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")

            let stale = try await client.signIn("carol", groups: ["db-owners"], mfa: false)
            let queue = try await client.console(.get, "/console/approvals", headers: stale.cookie)
            #expect(queue.text.contains("needs a second factor within 15m"), "\(queue.text)")
            #expect(queue.text.contains("/console/signin?fresh=1&amp;return_to=%2Fconsole%2Fapprovals"))
            let refused = try await client.console(
                .post, "/console/requests/\(id)/approve", headers: stale.cookie, form: [("csrf", stale.csrf), ("comment", "ok")])
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("Sign in again with your second factor"))
            #expect(!refused.text.contains("You approved"))

            // The fresh sign-in asks the identity provider to authenticate again.
            let begun = try await client.console(.get, "/console/signin?fresh=1&return_to=%2Fconsole%2Fapprovals")
            let location = try #require(begun.headers[.location])
            #expect(location.contains("prompt=login") && location.contains("max_age=0"))

            let fresh = try await client.signIn("carol", groups: ["db-owners"], mfa: true)
            let queueAgain = try await client.console(.get, "/console/approvals", headers: fresh.cookie)
            #expect(!queueAgain.text.contains("needs a second factor"))
            let approved = try await client.console(
                .post, "/console/requests/\(id)/approve", headers: fresh.cookie, form: [("csrf", fresh.csrf), ("comment", "ok")])
            #expect(approved.status == .ok && approved.text.contains("You approved"), "\(approved.text)")
        }
    }
}
