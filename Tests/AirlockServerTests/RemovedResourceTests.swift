import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// A resource removed from the catalog while leases of it hold a credential: the broker refuses to start unless
/// told, and then revokes those leases with the resource's last known settings (issue 11, item 11).
@Suite struct RemovedResourceTests {
    @Test("a catalog that strands active leases is refused; allowed, their logins are still revoked",
          .timeLimit(.minutes(3)))
    func removedResourceLeasesAreRevoked() async throws {
        let fixture = try await AccessFlowFixture.make()
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let (lease, user) = try await buildApplication(config: fixture.config).test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "INC-9"}
                """)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
            let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            return (try #require(creds.json["lease_id"]?.stringValue), try #require(creds.json["username"]?.stringValue))
        }
        #expect(try await LeaseRevocationTests.roleExists(user, on: fixture.target))

        // The resource leaves the catalog (and its admin password leaves the environment with it).
        let directory = try #require(fixture.config.settings.policiesDirectory)
        try Data(#"{"resources": []}"#.utf8).write(
            to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        var config = fixture.config
        config.environment = [:]
        let logs = CapturedLogs()
        config.logger = logs.logger()
        // The broker refuses the catalog and stops, before it ever serves: run it as `airlock serve` does (not
        // through the test client, which waits for a server that may never start), bounded so that a broker that
        // does not stop fails the test instead of hanging the suite.
        let refusing = config
        let outcome: String
        do {
            outcome = try await withTimeout(.seconds(30)) {
                do {
                    try await buildApplication(config: refusing).runService(gracefulShutdownSignals: [])
                    return "it ran and stopped without an error"
                } catch {
                    return "refused: \(error)"
                }
            }
        } catch is TimeoutError {
            outcome = "still running after 30 s"
        }
        #expect(outcome.hasPrefix("refused:") && outcome.contains("resources.allow_removed"), "\(outcome)")
        #expect(logs.text.contains("refusing to serve this resource catalog") && logs.text.contains("`orders-db` (1 lease(s))"),
                "\(logs.text.suffix(2000))")

        config.settings.allowRemovedResources = ["orders-db"]
        let admin = try await TestDatabase.withExisting(try #require(config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "ops", scopes: ["admin"], logger: TestDatabase.logger).token
        }
        try await buildApplication(config: config).test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let revoked = try await client.call(.post, "/v1/leases/\(lease)/revoke", token: admin)
            #expect(revoked.status == .ok && revoked.json["status"] == "revoked", "\(revoked.json)")
        }
        #expect(try await LeaseRevocationTests.roleExists(user, on: fixture.target) == false)
        let events = try await AuditReader.events(at: try #require(config.settings.databaseURL))
        let removed = try #require(events.first { $0.type == "airlock.resource.removed" })
        #expect(removed.subject == "orders-db")
        // The sealed admin password never appears in the audit log.
        let password = try #require(fixture.target.password)
        #expect(!events.contains { $0.event.contains(password) })
    }
}
