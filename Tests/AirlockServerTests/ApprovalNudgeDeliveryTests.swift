import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Requests that move by themselves, through the running broker: its sweep, the outbox, and real receivers on
/// loopback subscribed to the approvers' channel and the on-call's.
@Suite(.serialized)
struct ApprovalNudgeDeliveryTests {
    static func subscribe(
        _ receiver: WebhookReceiver, channel: String, client: some TestClientProtocol, token: String
    ) async throws {
        let body = JSONValue.object([
            "url": .string(receiver.url), "channels": [.string(channel)], "event_types": ["airlock.access."],
        ])
        let added = try await client.call(.post, "/v1/webhooks", token: token, body: body.description)
        #expect(added.status == .created, "\(added.json)")
        receiver.expect(secret: try WebhookSecret(parsing: try #require(added.json["secret"]?.stringValue)))
    }

    static func types(_ receiver: WebhookReceiver, about id: String) -> [String] {
        receiver.received.compactMap { delivery in
            delivery.event?["data"]?["request_id"]?.stringValue == id ? delivery.event?["type"]?.stringValue : nil
        }
    }

    @Test("the db-owners' endpoint hears of bob's request at once and is reminded when nobody decides; the on-call's hears of it when it is escalated, and only then",
          .timeLimit(.minutes(3)))
    func approversAndOnCallHearOfWaitingRequests() async throws {
        let fixture = try await AccessFlowFixture.make()
        let clock = TestClock.followingSystemTime()
        var config = fixture.config
        config.clock = clock
        config.settings.webhookAddresses.allowsLoopback = true
        config.settings.approvalNudges = ApprovalNudges(
            reminderAfterSeconds: 600, escalationAfterSeconds: 1200, escalationGroup: "oncall")
        let admin = try await SharedSignalsTransmitterTests.token(fixture, scopes: ["admin"], name: "admin")
        let bob = try await fixture.token("bob", groups: ["backend"])
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { owners in
            try await WebhookReceiver.with { onCall in
                owners.use(clock: clock)
                onCall.use(clock: clock)
                try await app.test(.live) { client in
                    try await ServerSupport.waitUntilReady(client)
                    try await Self.subscribe(owners, channel: "db-owners", client: client, token: admin)
                    try await Self.subscribe(onCall, channel: "oncall", client: client, token: admin)
                    let asked = try await client.call(.post, "/v1/access-requests", token: bob, body: """
                        {"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix order 42"}
                        """)
                    let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")

                    // At once, on the approvers' channel (the request itself is on the policy's `security` only).
                    #expect(try await WebhookDeliveryTests.eventually(20) {
                        Self.types(owners, about: id) == ["airlock.access.approval_needed"]
                    }, "\(Self.types(owners, about: id))")
                    let needed = try #require(owners.received.first?.event?["data"])
                    #expect(needed["approver_groups"] == ["db-owners", "security"] && needed["reason"] == "fix order 42")

                    // Ten minutes on the broker's clock: a reminder, to the same endpoint; the on-call hears nothing.
                    clock.advance(601)
                    #expect(try await WebhookDeliveryTests.eventually(20) {
                        Self.types(owners, about: id) == ["airlock.access.approval_needed", "airlock.access.approval_reminder"]
                    }, "\(Self.types(owners, about: id))")
                    #expect(onCall.received.isEmpty)

                    // Twenty minutes: escalated, to the on-call and the approvers.
                    clock.advance(600)
                    #expect(try await WebhookDeliveryTests.eventually(20) {
                        Self.types(onCall, about: id) == ["airlock.access.approval_escalated"]
                    }, "\(Self.types(onCall, about: id))")
                    #expect(try await WebhookDeliveryTests.eventually(20) {
                        Self.types(owners, about: id).last == "airlock.access.approval_escalated"
                    })
                    let escalated = try #require(onCall.received.first?.event?["data"])
                    #expect(escalated["escalated_to"] == "oncall" && escalated["severity"] == "medium")
                }
            }
        }
    }
}
