import AirlockAgent
import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// `airlock agent` end to end, on the real clock: a PostgreSQL session pool kept busy through rotations with no
/// failed query, every superseded login dropped after its grace period, nothing left at the end.
@Suite(.serialized)
struct AgentRotationTests {
    @Test("a session pool stays busy through at least three rotations (TTL 3 s, cap 6 s): no query fails, each superseded login is dropped after its grace period, none is left at the end, no secret is logged",
          .timeLimit(.minutes(3)))
    func sessionPoolThroughThreeRotations() async throws {
        let fixture = try await AgentFixture.make()
        let app = try buildApplication(config: fixture.config)
        let (token, tokenFile) = try await fixture.tokenFile("orders-app", groups: ["apps"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let configuration = try fixture.configuration(
                brokerPort: try #require(client.port), tokenFile: tokenFile, name: "orders", ttl: "3s")
            let running = RunningAgent(try Agent(configuration: configuration, logger: fixture.agentLogs.logger(label: "airlock.agent")))
            let pool = BusyPool(file: fixture.path("orders.json"), target: fixture.flow.target)
            let pooling = Task { await pool.run(size: 3) }

            // Which logins exist, sampled every 50 ms: when each one was last seen.
            let lastSeen = LastSeen()
            let sampling = Task {
                while !Task.isCancelled {
                    let names = pool.logins.withLock { $0.map(\.username) }
                    if !names.isEmpty, let found = try? await fixture.existingRoles(names) { lastSeen.saw(found) }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            let rotated = try await RunningAgent.wait(upTo: 60) { pool.logins.withLock { $0.count } >= 4 }
            #expect(rotated, "four logins (three rotations) within a minute: \(pool.logins.withLock { $0.map(\.username) })")
            // The last superseded login's grace period runs out before the agent stops.
            try await Task.sleep(for: .seconds(2))

            let health = try await running.fetch("/healthz")
            #expect(health.status == 200 && health.body.contains("\"valid\":true"), "\(health)")
            let metrics = try await running.fetch("/metrics").body
            #expect(metrics.contains("airlock_agent_credential_expiry_seconds{credential=\"orders\"}"))
            #expect(running.agent.status.credential("orders").map { $0.renewed >= 1 && $0.issued >= 4 } == true,
                    "\(String(describing: running.agent.status.credential("orders")))")

            pool.stop()
            await pooling.value
            running.stop()
            #expect(try await running.finished() == 0)
            sampling.cancel()
            _ = await sampling.result

            let failures = pool.failures.withLock { $0 }
            #expect(failures.isEmpty, "\(failures)")
            #expect(pool.queries.load(ordering: .relaxed) > 100)
            let logins = pool.logins.withLock { $0 }
            #expect(Set(logins.map(\.username)).count == logins.count, "every rotation is a new login")
            // Each superseded login outlived its successor's hand-over by the grace period (1 s), and not by much more.
            for (old, new) in zip(logins, logins.dropFirst()).dropLast(logins.count > 4 ? 1 : 0) {
                let gone = try #require(lastSeen.at(old.username), "\(old.username) was never seen")
                let overlap = gone.timeIntervalSince(new.seenAt)
                #expect(overlap > 0.8 && overlap < 4, "\(old.username) outlived its successor's hand-over by \(overlap) s")
            }
            // Shut down: nothing of the agent's remains.
            #expect(try await fixture.existingRoles(logins.map(\.username)).isEmpty)
            let leases = try await client.call(.get, "/v1/leases", token: token).json["items"]?.arrayValue ?? []
            #expect(leases.count >= logins.count)
            #expect(leases.allSatisfy { ["revoked", "expired"].contains($0["status"]?.stringValue ?? "") }, "\(leases)")
            #expect(fixture.status("orders")?["state"] == "stopped")
            for name in ["orders.json", "orders.env", "orders.pgpass"] {
                #expect(!FileManager.default.fileExists(atPath: fixture.path(name)), "\(name) removed")
            }
            // No password, nor the agent's token, in the broker's logs or the agent's.
            for line in fixture.brokerLogs.all + fixture.agentLogs.all {
                for login in logins { #expect(!line.contains(login.password)) }
                #expect(!line.contains(token))
            }
        }
    }
}

/// When each login was last seen to exist.
final class LastSeen: Sendable {
    private let table = Mutex<[String: Date]>([:])

    func saw(_ names: Set<String>) {
        let now = Date()
        table.withLock { for name in names { $0[name] = now } }
    }

    func at(_ name: String) -> Date? { table.withLock { $0[name] } }
}
