import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Issue 15 through the running broker: the risk engine (`risk.engine`, default `baseline`) decides with the policy,
/// and every decision answer carries `risk: {score, signals: [{name, weight, detail}]}`.
@Suite(.serialized)
struct RiskDecisionTests {
    static let policies = """
        permit "readers" when resource.env == "prod" and request.role == "readonly" ttl <= 1h;
        forbid "compromised" when "device_compromised" in risk.signals;
        forbid "high-risk" when risk.score >= 70;
        """
    static let readonly = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-15"}"#

    static func names(_ risk: JSONValue?) -> [String] {
        risk?["signals"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    @Test("an external signal reaches every decision answer of its principal, with weight and detail, and the policy reads it",
          .timeLimit(.minutes(3)))
    func signalDecides() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // A newcomer's first request: only what is true of any first request, and it is permitted.
            let first = try await client.call(.post, "/v1/access-requests", token: alice, body: Self.readonly)
            #expect(first.status == .created, "\(first.json)")
            #expect(Self.names(first.json["risk"]).contains("first_use_of_resource"), "\(first.json)")
            #expect((first.json["risk"]?["score"]?.intValue ?? 100) < 70, "\(first.json)")
            let firstID = try #require(first.json["id"]?.stringValue)
            let view = try await client.call(.get, "/v1/access-requests/\(firstID)", token: alice)
            #expect(view.json["risk"] == first.json["risk"], "\(view.json)")

            let signal = try await client.call(.post, "/v1/signals", token: admin, body: """
                {"principal": "alice", "signal": "device_compromised", "severity": "high", "ttl_seconds": 600}
                """)
            #expect(signal.status == .created, "\(signal.json)")

            let whatIf = try await client.call(.post, "/v1/decisions", token: alice, body: Self.readonly)
            #expect(whatIf.status == .ok, "\(whatIf.json)")
            #expect(whatIf.json["decision"]?["decision"]?.stringValue == "deny", "\(whatIf.json)")
            let compromised = try #require(whatIf.json["risk"]?["signals"]?.arrayValue?.first {
                $0["name"] == "device_compromised"
            }, "\(whatIf.json)")
            #expect(compromised["weight"]?.intValue == 50)
            #expect(compromised["detail"]?.stringValue?.hasPrefix("high signal from token:ops, active until ") == true)
            #expect((whatIf.json["risk"]?["score"]?.intValue ?? 0) >= 50)

            let refused = try await client.call(.post, "/v1/access-requests", token: alice, body: Self.readonly)
            #expect(refused.status == .created && refused.json["status"]?.stringValue == "denied", "\(refused.json)")
            #expect(Self.names(refused.json["risk"]).contains("device_compromised"))
            // bob is not concerned.
            let other = try await client.call(.post, "/v1/decisions", token: bob, body: Self.readonly)
            #expect(other.json["decision"]?["decision"]?.stringValue == "permit", "\(other.json)")
            #expect(!Self.names(other.json["risk"]).contains("device_compromised"))
        }
    }

    @Test("with risk.engine off every decision is at score 0 with no signals", .timeLimit(.minutes(2)))
    func engineOff() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        var config = fixture.config
        config.settings.riskEngine = .off
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let whatIf = try await client.call(.post, "/v1/decisions", token: alice, body: Self.readonly)
            #expect(whatIf.json["risk"] == ["score": 0, "signals": []], "\(whatIf.json)")
        }
    }
}
