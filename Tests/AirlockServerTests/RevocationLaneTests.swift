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
        let stalled = """
            {"id": "stalled-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7,
             "postgres": {"host": "127.0.0.1", "port": \(proxy.port), "database": "\(fixture.target.database)",
                          "admin_user": "${T_USER}", "admin_password_env": "T_PASSWORD", "sslmode": "disable"},
             "roles": {"readonly": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"}]}}}
            """
        let directory = try #require(fixture.config.settings.policiesDirectory)
        let file = URL(fileURLWithPath: directory).appendingPathComponent("resources.json")
        var resources = try String(contentsOf: file, encoding: .utf8)
        resources = String(resources.dropLast(2)) + ", " + stalled + "]}"
        try Data(resources.utf8).write(to: file)

        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let onStalled = try await issue(client, alice, resource: "stalled-db", ttl: 2)
            proxy.set(.stall)  // every byte to and from the stalled target is held from now on (before it expires)
            let onHealthy = try await issue(client, alice, resource: "orders-db", ttl: 5)

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

    private func issue(
        _ client: some TestClientProtocol, _ token: String, resource: String, ttl: Int
    ) async throws -> String {
        let asked = try await client.call(.post, "/v1/access-requests", token: token, body: """
            {"resource": "\(resource)", "role": "readonly", "ttl_seconds": \(ttl), "reason": "INC-7"}
            """)
        let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
        let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: token)
        return try #require(creds.json["lease_id"]?.stringValue, "\(creds.json)")
    }

    private func status(_ client: some TestClientProtocol, _ token: String, _ lease: String) async throws -> String {
        try await client.call(.get, "/v1/leases/\(lease)", token: token).json["status"]?.stringValue ?? ""
    }
}
