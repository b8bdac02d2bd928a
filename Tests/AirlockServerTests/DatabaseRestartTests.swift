import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Synchronization
import Testing

/// Fault suite (issue 11): the broker's own database restarted (`pg_ctl stop -m fast`, then start) while requests
/// and pickups run. The broker reconnects; nothing is half-applied (every request and lease has its audit events,
/// every login on the target belongs to a live lease and every active lease has its login); the audit chain is
/// intact; both notification channels are listened on again and the token caches answer again.
@Suite struct DatabaseRestartTests {
    @Test("the broker's database restarted mid-traffic (real clock, a cluster of its own)", .timeLimit(.minutes(4)))
    func brokerDatabaseRestartedMidTraffic() async throws {
        // The broker's database on a cluster of its own (the shared test cluster cannot be restarted); the target
        // stays on the shared one.
        let cluster = try LocalPostgresCluster.start()
        defer { try? cluster.stop() }
        let server = try DatabaseURL(cluster.url(database: "postgres"))
        try await TestDatabase.run(["CREATE DATABASE airlock"], on: server)
        let broker = server.with(database: "airlock")

        let shared = try await AccessFlowFixture.make()
        var config = shared.config
        config.settings.databaseURL = broker
        config.migrateOnStart = true
        let fixture = AccessFlowFixture(config: config, issuer: shared.issuer, target: shared.target,
                                        otherDatabase: shared.otherDatabase)
        let app = try buildApplication(config: fixture.config)
        let tokens = try await (0..<4).asyncMap { try await fixture.token("user\($0)", groups: ["sre"], mfa: true) }

        let traffic = Traffic()
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for token in tokens {
                    group.addTask {
                        // Until 12 s after the restart (which waits for traffic to flow first).
                        while traffic.restartedAt.withLock({ $0.map { ContinuousClock.now < $0 + .seconds(12) } ?? true }) {
                            let succeeded = (try? await pickUp(client, token)) ?? false
                            let afterRestart = traffic.restarted.withLock { $0 }
                            traffic.outcomes.withLock {
                                if !succeeded { $0.failed += 1 } else if afterRestart { $0.after += 1 } else { $0.before += 1 }
                            }
                            if !succeeded { try await Task.sleep(for: .milliseconds(100)) }
                        }
                    }
                }
                group.addTask {
                    // Traffic flows first (a loaded machine may take a while), then the database restarts.
                    try await Task.sleep(for: .seconds(4))
                    for _ in 0..<300 where traffic.outcomes.withLock({ $0.before }) == 0 {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    try cluster.restart()
                    traffic.restarted.withLock { $0 = true }
                    traffic.restartedAt.withLock { $0 = ContinuousClock.now }
                }
                try await group.waitForAll()
            }
            let counts = traffic.outcomes.withLock { $0 }
            #expect(counts.before > 0, "no traffic before the restart")
            #expect(counts.after > 0, "the broker did not serve again after its database restarted: \(counts)")

            // Both channels are listened on again: the token changes and the policy changes.
            var listening = 0
            for _ in 0..<100 where listening < 2 {
                listening = try await count(
                    "SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = 'airlock' AND query ILIKE 'LISTEN%'",
                    in: broker)
                if listening < 2 { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(listening >= 2, "LISTEN was not re-established (\(listening) listening connections)")
            // The token listener heard its own heartbeat after the restart: the caches answer again.
            var heard = 0
            for _ in 0..<50 where heard == 0 {
                heard = try await count(
                    "SELECT count(*)::int8 FROM broker_instances WHERE seen_at > pg_postmaster_start_time()",
                    in: broker)
                if heard == 0 { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(heard == 1, "no heartbeat heard since the restart")

            // Nothing half-applied.
            #expect(try await count("""
                SELECT count(*)::int8 FROM access_requests r WHERE NOT EXISTS (SELECT 1 FROM audit_events e
                    WHERE e.type = 'airlock.access.requested' AND e.subject = r.id::text)
                """, in: broker) == 0, "a request without its audit event")
            #expect(try await count("""
                SELECT count(*)::int8 FROM leases l WHERE l.issued_at IS NOT NULL AND NOT EXISTS (SELECT 1
                    FROM audit_events e WHERE e.type = 'airlock.credential.issued' AND e.subject = l.id::text)
                """, in: broker) == 0, "an issued lease without its audit event")
            #expect(try await count("""
                SELECT count(*)::int8 FROM access_requests r WHERE r.status = 'issued' AND NOT EXISTS (SELECT 1
                    FROM leases l WHERE l.request_id = r.id AND l.issued_at IS NOT NULL)
                """, in: broker) == 0, "a request issued without an issued lease")
            try await checkLoginsMatchLeases(fixture: fixture, broker: broker)

            // The audit chain: every event chained, and the chain verifies.
            var unchained = -1
            for _ in 0..<100 where unchained != 0 {
                unchained = try await count("SELECT count(*)::int8 FROM audit_events WHERE sequence IS NULL", in: broker)
                if unchained != 0 { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(unchained == 0)
            let verification = try await TestDatabase.withExisting(broker) { database in
                try await ChainVerifier(database: database).verify(logger: TestDatabase.logger)
            }
            #expect(verification.isIntact, "\(String(describing: verification.problem))")
            #expect(verification.checked > 10)
        }
    }

    /// Every active lease has its login on the target, and every login of the resource's group role carries the
    /// comment of a lease that is not over.
    private func checkLoginsMatchLeases(fixture: AccessFlowFixture, broker: DatabaseURL) async throws {
        let leases = try await TestDatabase.withExisting(broker) { database in
            let rows = try await database.client.query(
                "SELECT id::text, status, username FROM leases", logger: TestDatabase.logger)
            var found: [String: (status: String, username: String?)] = [:]
            for try await (id, status, username) in rows.decode((String, String, String?).self) {
                found[id] = (status, username)
            }
            return found
        }
        let active = leases.values.filter { $0.status == "active" }
        #expect(!active.isEmpty)
        for lease in active {
            let username = try #require(lease.username)
            #expect(try await LeaseRevocationTests.roleExists(username, on: fixture.target), "active lease without a login")
        }
        // The logins in the group role of the leases' resource and template.
        let sample = try #require(active.first?.username)
        let logins = try await TestDatabase.withExisting(fixture.target) { database in
            let rows = try await database.client.query("""
                SELECT m.rolname, coalesce(shobj_description(m.oid, 'pg_authid'), '')
                FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member
                WHERE a.roleid = (SELECT a2.roleid FROM pg_auth_members a2 JOIN pg_roles r ON r.oid = a2.member
                                  WHERE r.rolname = \(sample) LIMIT 1)
                """, logger: TestDatabase.logger)
            var found: [(String, String)] = []
            for try await row in rows.decode((String, String).self) { found.append(row) }
            return found
        }
        #expect(logins.count >= active.count)
        for (login, comment) in logins {
            let id = comment.replacingOccurrences(of: "airlock lease ", with: "")
            let lease = leases[id]
            #expect(lease != nil, "login \(login) has no lease (\(comment))")
            if let lease {
                #expect(["active", "issuing", "revoking"].contains(lease.status), "login \(login) outlived lease \(id)")
            }
        }
    }

    private func count(_ sql: String, in url: DatabaseURL) async throws -> Int {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            for try await value in rows.decode(Int64.self) { return Int(value) }
            return -1
        }
    }

    /// Asks and picks up; whether a credential came back.
    private func pickUp(_ client: some TestClientProtocol, _ token: String) async throws -> Bool {
        let asked = try await client.call(.post, "/v1/access-requests", token: token, body: """
            {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-9"}
            """)
        guard let id = asked.json["id"]?.stringValue else { return false }
        let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: token)
        return creds.status == .ok && creds.json["lease_id"]?.stringValue != nil
    }
}

/// What the traffic saw: pickups that succeeded before and after the restart, and those that failed.
private final class Traffic: Sendable {
    let restarted = Mutex(false)
    let restartedAt = Mutex<ContinuousClock.Instant?>(nil)
    let outcomes = Mutex<(before: Int, after: Int, failed: Int)>((0, 0, 0))
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
