import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Revocation runs one lane per resource: a target that stalls delays only its own leases (issue 11, item 10).
@Suite struct RevocationLaneTests {
    @Test("a stalled target does not hold up the revocation of another target's leases (real clock)",
          .timeLimit(.minutes(3)))
    func stalledTargetDelaysOnlyItsOwnLeases() async throws {
        let admin = try await TestDatabase.serverURL()
        let proxy = try FaultProxy(upstreamPort: admin.port)
        defer { proxy.stop() }
        // The same target database, reached through the proxy under another resource id.
        let fixture = try await AccessFlowFixture.make(extraResources: [])
        try fixture.addResource("stalled-db", throughPort: proxy.port)

        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let onStalled = try await client.issueReadonly(alice, resource: "stalled-db", ttl: 2)
            proxy.set(.stall)  // every byte to and from the stalled target is held from now on (before it expires)
            let onHealthy = try await client.issueReadonly(alice, resource: "orders-db", ttl: 5)

            // The stalled target's lease is claimed, and its revocation hangs (until the provider's 30 s deadline).
            var stalledStatus = ""
            for _ in 0..<80 where stalledStatus != "revoking" {
                try await Task.sleep(for: .milliseconds(100))
                stalledStatus = try await status(client, alice, onStalled)
            }
            #expect(stalledStatus == "revoking")
            // The other target's lease expires later, while that revocation hangs, and is revoked on time.
            var healthyStatus = ""
            for _ in 0..<150 where healthyStatus != "expired" {
                try await Task.sleep(for: .milliseconds(100))
                healthyStatus = try await status(client, alice, onHealthy)
            }
            #expect(healthyStatus == "expired", "the healthy target's lease waited for the stalled one")
            #expect(try await status(client, alice, onStalled) == "revoking")
        }
    }

    private func status(_ client: some TestClientProtocol, _ token: String, _ lease: String) async throws -> String {
        try await client.call(.get, "/v1/leases/\(lease)", token: token).json["status"]?.stringValue ?? ""
    }
}
