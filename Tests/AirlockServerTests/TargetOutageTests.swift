import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Fault suite (issue 11): a target down for a minute while its leases expire. Its revocations fail, are audited
/// and retried, and complete within seconds of its return; another target's leases are revoked on time meanwhile.
@Suite struct TargetOutageTests {
    @Test("a target down for a minute: its leases are revoked seconds after it returns, others on time (real clock)",
          .timeLimit(.minutes(4)))
    func targetDownForAMinute() async throws {
        let admin = try await TestDatabase.serverURL()
        let proxy = try FaultProxy(upstreamPort: admin.port)
        defer { proxy.stop() }
        // The same target database, reached through the proxy under another resource id.
        let fixture = try await AccessFlowFixture.make(extraResources: [])
        try fixture.addResource("flaky-db", throughPort: proxy.port)
        let broker = try #require(fixture.config.settings.databaseURL)

        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let (flakyLeases, healthyLease, returnedAt) = try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            var flakyLeases: [String] = []
            // 20 s: on a loaded 2-core run, issuing took long enough that an 8 s lease had expired (and been revoked)
            // before the target went down. The target stays down 60 s: still at least two attempts after expiry.
            for _ in 0..<2 { flakyLeases.append(try await client.issueReadonly(alice, resource: "flaky-db", ttl: 20)) }
            proxy.set(.down)  // open connections cut, new ones closed at once: the target is gone (before expiry)
            let wentDown = ContinuousClock.now
            let healthyLease = try await client.issueReadonly(alice, resource: "orders-db", ttl: 10)

            // Meanwhile the healthy target's lease is revoked on time.
            var healthy = try await lease(healthyLease, in: broker)
            while healthy.status != "expired", ContinuousClock.now < wentDown + .seconds(45) {
                try await Task.sleep(for: .milliseconds(200))
                healthy = try await lease(healthyLease, in: broker)
            }
            #expect(healthy.status == "expired", "the healthy target's lease waited for the one that is down")
            if let revokedAt = healthy.revokedAt {
                // Well inside the minute the other target is down (the point); a loaded full run has been 8.5 s late.
                #expect(revokedAt.timeIntervalSince(healthy.expiresAt) < 20, "revoked \(revokedAt) for expiry \(healthy.expiresAt)")
            }

            // The target stays down for a minute: its leases stay `revoking`, each failure audited.
            try await Task.sleep(until: wentDown + .seconds(60))
            for id in flakyLeases {
                let state = try await lease(id, in: broker)
                #expect(state.status == "revoking", "\(id) is \(state.status) while its target is down")
                #expect(state.attempts >= 2, "only \(state.attempts) attempt(s) in a minute")
            }
            proxy.set(.forward)
            let returnedAt = Date()

            let back = ContinuousClock.now
            var ended = false
            while !ended, ContinuousClock.now < back + .seconds(60) {
                try await Task.sleep(for: .milliseconds(200))
                var all = true
                for id in flakyLeases where try await lease(id, in: broker).status != "expired" { all = false }
                ended = all
            }
            #expect(ended, "the leases were not revoked within a minute of the target's return")
            return (flakyLeases, healthyLease, returnedAt)
        }

        let failures = try await AuditReader.events(at: broker, type: "airlock.credential.revocation_failed")
        for id in flakyLeases {
            let state = try await lease(id, in: broker)
            let revokedAt = try #require(state.revokedAt)
            // The retry after the return comes within the backoff's cap (10 s); the first attempt after an outage may
            // still fail while the provider's pool re-establishes its connection, and the next comes within the cap
            // again: 18.8 s and 20.0 s were seen on a loaded 2-core run. Two caps and the attempts: 25 s.
            #expect(revokedAt.timeIntervalSince(returnedAt) < 25, "revoked \(revokedAt.timeIntervalSince(returnedAt)) s after the target returned")
            // Every failed attempt is in the audit log, at severity high; the last attempt succeeded.
            let audited = failures.filter { $0.subject == id }
            #expect(audited.count == state.attempts - 1, "\(audited.count) failures audited for \(state.attempts) attempts")
            #expect(audited.allSatisfy { $0.severity == "high" })
            let username = try #require(state.username)
            #expect(try await !LeaseRevocationTests.roleExists(username, on: fixture.target))
        }
        let healthy = try await lease(healthyLease, in: broker)
        #expect(healthy.attempts == 1, "the healthy target's lease needed \(healthy.attempts) attempts")
        #expect(failures.allSatisfy { $0.subject != healthyLease })
    }

    struct LeaseRow {
        let status: String
        let attempts: Int
        let expiresAt: Date
        let revokedAt: Date?
        let username: String?
    }

    private func lease(_ id: String, in broker: DatabaseURL) async throws -> LeaseRow {
        let uuid = try #require(UUID(uuidString: id))
        return try await TestDatabase.withExisting(broker) { database in
            let rows = try await database.client.query(
                "SELECT status, attempts, expires_at, revoked_at, username FROM leases WHERE id = \(uuid)",
                logger: TestDatabase.logger)
            for try await (status, attempts, expiresAt, revokedAt, username)
                in rows.decode((String, Int32, Date, Date?, String?).self) {
                return LeaseRow(
                    status: status, attempts: Int(attempts), expiresAt: expiresAt, revokedAt: revokedAt,
                    username: username)
            }
            throw StoreError(code: "not_found", message: "no lease \(id)")
        }
    }

}
