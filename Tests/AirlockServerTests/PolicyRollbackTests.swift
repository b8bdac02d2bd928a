import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Testing

/// Issue 10, item 8: a `NOTIFY airlock_policy_changes, '<old set id>'` from any role that can connect does not roll
/// the policy back; every switch is audited.
@Suite(.serialized)
struct PolicyRollbackTests {
    /// The lockdown the broker runs: backend may not read.
    static let lockdown = """
        forbid "lockdown" when "backend" in principal.groups;
        permit "sre-readonly" when "sre" in principal.groups and request.role == "readonly" ttl <= 1h;
        """
    /// An old set, announced long ago: backend may read.
    static let old = """
        permit "backend-readonly" when "backend" in principal.groups and request.role == "readonly" ttl <= 30m;
        """
    /// A newer announced set: still the lockdown, and frontend may read.
    static let newer = lockdown + """

        permit "frontend-readonly" when "frontend" in principal.groups and request.role == "readonly" ttl <= 30m;
        """

    @Test("a notification naming an older set activates only the newest announced set, audited",
          .timeLimit(.minutes(2)))
    func forgedNotificationRollsNothingBack() async throws {
        let base = try await AccessFlowFixture.make()
        let directory = ServerSupport.writePolicies(Self.lockdown)
        try FileManager.default.copyItem(
            at: URL(fileURLWithPath: base.config.settings.policiesDirectory).appendingPathComponent("resources.json"),
            to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        var config = base.config
        config.settings.policiesDirectory = directory
        config.reloadPoliciesOnHangup = false
        config.brokerName = "broker-under-test"
        let app = try buildApplication(config: config)
        let backend = try await base.token("bob", groups: ["backend"])
        let frontend = try await base.token("fran", groups: ["frontend"])
        let url = try #require(config.settings.databaseURL)
        let oldID = UUID(), newerID = UUID()

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let ask = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "look"}"#
            func outcome(_ token: String) async throws -> String? {
                try await client.call(.post, "/v1/decisions", token: token, body: ask).json["decision"]?["decision"]?.stringValue
            }
            #expect(try await outcome(backend) == "deny")
            #expect(try await outcome(frontend) == "deny")
            let runningID = try await TestDatabase.withExisting(url) { database in
                let rows = try await database.client.query(
                    "SELECT id FROM policy_sets ORDER BY loaded_at DESC LIMIT 1", logger: TestDatabase.logger)
                var id: UUID?
                for try await value in rows.decode(UUID.self) { id = value }
                return try #require(id)
            }

            // An old announced set and a newer one are recorded; then someone notifies the old one's id.
            try await TestDatabase.withExisting(url) { database in
                for (id, text, offset) in [(oldID, Self.old, "- interval '1 hour'"), (newerID, Self.newer, "+ interval '1 second'")] {
                    let files = JSONValue.object(["main.airlock": .string(text)]).canonicalString()
                    try await database.client.query(PostgresQuery(unsafeSQL: """
                        INSERT INTO policy_sets (id, digest, files, status, announced, loaded_at)
                        VALUES ($1, 'elsewhere', $2::jsonb, 'loaded', true, now() \(offset))
                        """, binds: try Self.binds(id, files)), logger: TestDatabase.logger)
                }
                try await database.client.query(
                    "SELECT pg_notify('airlock_policy_changes', \(oldID.uuidString.lowercased()))", logger: TestDatabase.logger)
            }

            // Whichever set the broker switches to, it shows in the decisions: the old one lets backend in.
            var backendOutcome: String?, frontendOutcome: String?
            for _ in 0..<100 {
                backendOutcome = try await outcome(backend)
                frontendOutcome = try await outcome(frontend)
                if backendOutcome == "permit" || frontendOutcome == "permit" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(backendOutcome == "deny", "the notification rolled the lockdown back")
            #expect(frontendOutcome == "permit", "the newest announced set was not activated")

            let events = try await AuditReader.events(at: url).map(\.event)
            let activations = events.filter { $0.contains("\"airlock.policy.activated\"") }
            #expect(activations.count == 1, "\(activations)")
            let activation = try JSONValue.parse(Data((activations.first ?? "{}").utf8))
            #expect(activation["data"]?["policy_set_id"]?.stringValue == newerID.uuidString.lowercased())
            #expect(activation["data"]?["previous_policy_set_id"]?.stringValue == runningID.uuidString.lowercased())
            #expect(activation["data"]?["broker"]?.stringValue == "broker-under-test")
            #expect(!events.contains { $0.contains("\"airlock.policy.activated\"") && $0.contains(oldID.uuidString.lowercased()) })
        }
    }

    static func binds(_ id: UUID, _ files: String) throws -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(files)
        return binds
    }
}
