import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reloads the policy directory; the other replicas follow through `airlock_policy_changes`.
@Suite(.serialized)
struct PolicyReloadTests {
    static let strict = """
        permit "sre-readonly"
          when "sre" in principal.groups and request.role == "readonly"
          ttl <= 1h;
        """
    static let loose = """
        permit "sre-readonly"
          when "sre" in principal.groups and request.role == "readonly"
          ttl <= 1h;

        permit "backend-readonly"
          when "backend" in principal.groups and request.role == "readonly"
          ttl <= 30m;
        """

    @Test("a reload on one broker switches both; a broken set is refused and the running one stays",
          .timeLimit(.minutes(2)))
    func reloadAndFollow() async throws {
        let base = try await AccessFlowFixture.make()
        let directoryA = ServerSupport.writePolicies(Self.strict)
        let directoryB = ServerSupport.writePolicies(Self.strict)
        for directory in [directoryA, directoryB] {
            let resources = URL(fileURLWithPath: base.config.settings.policiesDirectory).appendingPathComponent("resources.json")
            try FileManager.default.copyItem(
                at: resources, to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        }
        var configA = base.config
        configA.settings.policiesDirectory = directoryA
        var configB = base.config
        configB.settings.policiesDirectory = directoryB
        let appA = try buildApplication(config: configA)
        let appB = try buildApplication(config: configB)
        let bob = try await base.token("bob", groups: ["backend"])
        // Keeps SIGHUP handled in this process for the whole test, whatever the brokers do.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        _ = hangups

        try await appA.test(.live) { clientA in
            try await appB.test(.live) { clientB in
                try await ServerSupport.waitUntilReady(clientA)
                try await ServerSupport.waitUntilReady(clientB)
                let ask = """
                    {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "look"}
                    """
                func outcome(_ client: some TestClientProtocol) async throws -> String? {
                    try await client.call(.post, "/v1/decisions", token: bob, body: ask).json["decision"]?["decision"]?.stringValue
                }
                let firstA = try await outcome(clientA)
                let firstB = try await outcome(clientB)
                #expect(firstA == "deny" && firstB == "deny")

                // A broken file: refused, and nothing changes.
                try Data("permit \"broken\" when".utf8).write(
                    to: URL(fileURLWithPath: directoryA).appendingPathComponent("broken.airlock"))
                try await Task.sleep(for: .milliseconds(300))
                kill(getpid(), SIGHUP)
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await outcome(clientA) == "deny")

                try FileManager.default.removeItem(atPath: directoryA + "/broken.airlock")
                try Data(Self.loose.utf8).write(to: URL(fileURLWithPath: directoryA).appendingPathComponent("main.airlock"))
                kill(getpid(), SIGHUP)
                var a: String?, b: String?
                for _ in 0..<40 {
                    a = try await outcome(clientA)
                    b = try await outcome(clientB)
                    if a == "permit" && b == "permit" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(a == "permit" && b == "permit", "A: \(a ?? "?"), B: \(b ?? "?")")
            }
        }
        let events = try await AuditReader.events(at: try #require(base.config.settings.databaseURL)).map(\.type)
        #expect(events.filter { $0 == "airlock.policy.rejected" }.count == 1, "\(events)")
        #expect(events.filter { $0 == "airlock.policy.loaded" }.count == 3, "\(events)")
    }

    @Test("a broker that was not listening catches up on the newest announced set when it listens again",
          .timeLimit(.minutes(2)))
    func catchUpAfterReconnect() async throws {
        let base = try await AccessFlowFixture.make()
        let directory = ServerSupport.writePolicies(Self.strict)
        try FileManager.default.copyItem(
            at: URL(fileURLWithPath: base.config.settings.policiesDirectory).appendingPathComponent("resources.json"),
            to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        var config = base.config
        config.settings.policiesDirectory = directory
        config.reloadPoliciesOnHangup = false
        let app = try buildApplication(config: config)
        let bob = try await base.token("bob", groups: ["backend"])
        let url = try #require(config.settings.databaseURL)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let ask = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "look"}"#
            func outcome() async throws -> String? {
                try await client.call(.post, "/v1/decisions", token: bob, body: ask).json["decision"]?["decision"]?.stringValue
            }
            #expect(try await outcome() == "deny")
            // Another replica announced a set while this one was deaf: the row exists, the notification is lost.
            try await TestDatabase.withExisting(url) { database in
                let files = JSONValue.object(["main.airlock": .string(Self.loose)]).canonicalString()
                try await database.client.query("""
                    INSERT INTO policy_sets (id, digest, files, status, announced, loaded_at)
                    VALUES (\(UUID()), 'elsewhere', \(files)::jsonb, 'loaded', true, now() + interval '1 second')
                    """, logger: TestDatabase.logger)
                try await database.client.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND query LIKE 'LISTEN "airlock_policy_changes"%'
                    """, logger: TestDatabase.logger)
            }
            var decided: String?
            for _ in 0..<50 where decided != "permit" {
                try await Task.sleep(for: .milliseconds(100))
                decided = try await outcome()
            }
            #expect(decided == "permit", "the broker did not catch up")
        }
    }
}
