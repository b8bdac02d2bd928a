import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10, item 7: a token revocation is final when it returns, on every broker, even one whose notifications
/// lag (played here by stopping its listening backend with SIGSTOP).
@Suite(.serialized)
struct RevocationFinalityTests {
    enum Revoker: String, CaseIterable, Sendable {
        /// `DELETE /v1/tokens/{id}` through the other broker.
        case api
        /// What `airlock token revoke` runs: the token store with the configured wait, outside any broker.
        case cli
    }

    @Test("a revocation returns only once every live broker has dropped the token; a lagging one is named",
          .timeLimit(.minutes(3)), arguments: Revoker.allCases)
    func revocationIsFinal(revoker: Revoker) async throws {
        // A cluster of its own: a stopped backend holds up every backend of its cluster that waits for all of them
        // (DROP DATABASE's barrier, for one), so on the shared cluster it stalled other suites' connections.
        let cluster = try LocalPostgresCluster.start()
        defer { try? cluster.stop() }
        let server = try DatabaseURL(cluster.url(database: "postgres"))
        try await TestDatabase.run(["CREATE DATABASE airlock"], on: server)
        let own = server.with(database: "airlock")
        _ = try await Database.withDatabase(own, logger: TestDatabase.logger) { database in
            try await MigrationRunner(migrations: try Migration.load(from: TestDatabase.migrationsDirectory))
                .migrate(database, logger: TestDatabase.logger)
        }
        let fixture = try await TokenRoutesFixture.make(database: own)
        let url = fixture.databaseURL
        let logsA = CapturedLogs()
        var configA = fixture.config
        configA.brokerName = "broker-a"
        configA.reloadPoliciesOnHangup = false
        configA.settings.tokenRevocationWait = .seconds(5)
        configA.logger = logsA.logger()
        var configB = configA
        configB.brokerName = "broker-b"
        configB.logger = TestDatabase.logger
        let appA = try buildApplication(config: configA)
        let appB = try buildApplication(config: configB)
        let clock = fixture.clock
        let (first, second) = try await TestDatabase.withExisting(url) { database in
            let store = Self.store(database, clock: clock)
            return (try await store.create(name: "first", scopes: ["admin"], actor: "test", logger: TestDatabase.logger),
                    try await store.create(name: "second", scopes: ["admin"], actor: "test", logger: TestDatabase.logger))
        }
        let logsCLI = CapturedLogs()
        @Sendable func revoke(_ id: UUID, through clientA: some TestClientProtocol) async throws {
            switch revoker {
            case .api:
                let answer = try await clientA.call(.delete, "/v1/tokens/\(id.uuidString.lowercased())", token: fixture.adminToken)
                #expect(answer.status == .noContent, "\(answer)")
            case .cli:
                let outcome = try await TestDatabase.withExisting(url) { database in
                    try await Self.store(database, clock: clock).revoke(id: id, actor: "cli", logger: logsCLI.logger())
                }
                #expect(outcome == .revoked)
            }
        }

        try await appA.test(.live) { clientA in
            try await ServerSupport.waitUntilReady(clientA)
            let listenersA = try await Self.waitForListeners(count: 1, on: url)
            try await appB.test(.live) { clientB in
                try await ServerSupport.waitUntilReady(clientB)
                let pidB = try #require(try await Self.waitForListeners(count: 2, on: url).subtracting(listenersA).first)
                try await Self.waitForRegistrations(["broker-a", "broker-b"], on: url)

                // Both brokers hear: the revocation is acknowledged and refused at once on the other broker.
                #expect(try await clientB.call(.get, "/v1/tokens", token: first.token).status == .ok)
                #expect(try await clientB.call(.get, "/v1/tokens", token: first.token).status == .ok)
                try await revoke(first.id, through: clientA)
                let refused = try await clientB.call(.get, "/v1/tokens", token: first.token)
                #expect(refused.status == .unauthorized && refused.json["error"]?["code"]?.stringValue == "token_revoked",
                        "\(refused)")
                #expect(try await Self.switchedOff(on: url).isEmpty)

                // B's notifications stop arriving, with the token in its cache.
                #expect(try await clientB.call(.get, "/v1/tokens", token: second.token).status == .ok)
                #expect(try await clientB.call(.get, "/v1/tokens", token: second.token).status == .ok)
                #expect(kill(pid_t(pidB), SIGSTOP) == 0)
                do {
                    try await revoke(second.id, through: clientA)
                    let after = try await clientB.call(.get, "/v1/tokens", token: second.token)
                    #expect(after.status == .unauthorized && after.json["error"]?["code"]?.stringValue == "token_revoked",
                            "a broker answered from its cache after the revocation returned: \(after)")
                } catch {
                    kill(pid_t(pidB), SIGCONT)
                    throw error
                }
                kill(pid_t(pidB), SIGCONT)
                // The lagging broker is named (its switch-off lasts until it listens afresh, which it may already
                // have done: TokenCacheTests covers the switch itself).
                let warnings = (revoker == .api ? logsA.all : logsCLI.all).filter { $0.contains("did not acknowledge") }
                #expect(!warnings.isEmpty && warnings.allSatisfy { $0.contains("broker-b") && !$0.contains("broker-a") },
                        "\(warnings)")
            }
        }
    }

    /// The token store as `airlock token revoke` builds it, waiting at most 5 s for the brokers.
    static func store(_ database: Database, clock: TestClock) -> ApiTokenStore {
        ApiTokenStore(
            database: database, auditLog: AuditLog(source: "urn:airlock", clock: clock), clock: clock,
            barrier: RevocationBarrier(wait: .seconds(5)))
    }

    /// The pids of the backends listening on `airlock_token_changes`, once there are `count` of them.
    static func waitForListeners(count: Int, on url: DatabaseURL) async throws -> Set<Int32> {
        try await TestDatabase.withExisting(url) { database in
            var pids: Set<Int32> = []
            for _ in 0..<200 {
                pids = []
                let rows = try await database.client.query("""
                    SELECT pid FROM pg_stat_activity
                    WHERE datname = current_database() AND query LIKE 'LISTEN "airlock_token_changes"%'
                    """, logger: TestDatabase.logger)
                for try await pid in rows.decode(Int32.self) { pids.insert(pid) }
                if pids.count == count { return pids }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("expected \(count) listening backends, found \(pids.count)")
            return pids
        }
    }

    /// Waits until every broker of `names` is registered in `broker_instances`.
    static func waitForRegistrations(_ names: Set<String>, on url: DatabaseURL) async throws {
        try await TestDatabase.withExisting(url) { database in
            var found: Set<String> = []
            for _ in 0..<200 where found != names {
                found = []
                let rows = try await database.client.query("SELECT name FROM broker_instances", logger: TestDatabase.logger)
                for try await name in rows.decode(String.self) { found.insert(name) }
                if found != names { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(found == names)
        }
    }

    /// The brokers whose caches a revoker switched off.
    static func switchedOff(on url: DatabaseURL) async throws -> [String] {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT name FROM broker_instances WHERE caches_off_until IS NOT NULL ORDER BY name",
                logger: TestDatabase.logger)
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            return names
        }
    }
}
