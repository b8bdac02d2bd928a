import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 14, item 5: the events a security team must see carry the severity and channels it routes on.
@Suite(.serialized)
struct AlertRoutingTests {
    static let policies = """
        permit "break-glass"
          when principal.kind == "user" and request.break_glass
          ttl <= 1h
          notify "pager";

        forbid "no-contractors"
          when "contractors" in principal.groups
          notify "compliance";

        permit "sre-readonly"
          when "sre" in principal.groups and request.role == "readonly"
          ttl <= 1h;
        """

    @Test("break-glass is critical, a forbid with notify is high, both on the security channel; routine events are info",
          .timeLimit(.minutes(2)))
    func requestRouting() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["oncall"])
        let mallory = try await fixture.token("mallory", groups: ["contractors", "sre"])
        let bob = try await fixture.token("bob", groups: ["sre"])
        let (glass, forbidden, routine) = try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let glass = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-7", "break_glass": true}
                """)
            #expect(glass.json["status"]?.stringValue == "approved", "\(glass.json)")
            let forbidden = try await client.call(.post, "/v1/access-requests", token: mallory, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-8"}
                """)
            #expect(forbidden.json["status"]?.stringValue == "denied", "\(forbidden.json)")
            let (routine, json) = try await FlowSteps.ask(client, token: bob, role: FlowSteps.readonly, ttl: 600)
            #expect(json["status"]?.stringValue == "approved", "\(json)")
            return (try #require(glass.json["id"]?.stringValue), try #require(forbidden.json["id"]?.stringValue), routine)
        }
        let events = try await FlowSteps.events(fixture)
        func routing(_ subject: String, _ type: String) throws -> (String?, [String]) {
            let event = try #require(events.first { $0["subject"]?.stringValue == subject && $0["type"]?.stringValue == type })
            return (event["data"]?["severity"]?.stringValue,
                    event["data"]?["channels"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        #expect(try routing(glass, "airlock.access.requested") == ("critical", ["pager", "security"]))
        #expect(try routing(glass, "airlock.access.approved") == ("critical", ["pager", "security"]))
        #expect(try routing(forbidden, "airlock.access.requested") == ("high", ["compliance", "security"]))
        #expect(try routing(forbidden, "airlock.access.denied") == ("high", ["compliance", "security"]))
        #expect(try routing(routine, "airlock.access.requested") == ("info", []))
    }

    @Test("the routing rules, one by one")
    func rules() {
        #expect(AlertRouting.accessRequest(notify: [], denied: false, breakGlass: true) == (.critical, ["security"]))
        #expect(AlertRouting.accessRequest(notify: ["security"], denied: true, breakGlass: false) == (.high, ["security"]))
        #expect(AlertRouting.accessRequest(notify: [], denied: true, breakGlass: false) == (.info, []))
        #expect(AlertRouting.accessRequest(notify: ["ops"], denied: false, breakGlass: false) == (.info, ["ops"]))
        #expect(AlertRouting.accessRequest(notify: [], denied: false, breakGlass: false, killSwitch: true) == (.high, ["security"]))
        #expect(AlertRouting.isKillSwitch(AlertRouting.killSwitchReason(by: "token:root")))
        #expect(!AlertRouting.isKillSwitch("revoked by alice"))
        #expect(AlertRouting.credentialRevoked(reason: "expired") == (.info, []))
    }
}
