import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Claiming, finishing and retrying revocations, as replicas would (injected clock).
@Suite("Lease revocation store on PostgreSQL", .timeLimit(.minutes(2)))
struct LeaseRevocationStoreTests {
    let logger = Support.logger
    let base = AccessRequestStoreTests()
    static let start = AccessRequestStoreTests.start
    static let permit = Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])

    /// `count` active leases (600 s) issued at the clock's time.
    func activeLeases(_ requests: AccessRequestStore, _ count: Int) async throws -> [UUID] {
        let leases = LeaseStore(requests: requests)
        var ids: [UUID] = []
        for index in 0..<count {
            let request = try await base.create(requests, Self.permit)
            let intent = try await leases.begin(request.id, by: AccessRequestStoreTests.bob, issuable: ["orders-db": .postgres])
            try await leases.activate(intent, credential: .login("airlock_readwrite_\(String(format: "%012d", index))", for: intent))
            ids.append(intent.lease)
        }
        return ids
    }

    /// What the lease state machine finishes a claimed lease as, once its credential is gone (what the revoker
    /// stores).
    static func ended(_ lease: LeaseToRevoke) throws -> LeaseStatus {
        var state = lease.state
        guard case .finish(let status) = try state.apply(.credentialRemoved(at: start)) else {
            throw TestFailure("lease \(lease.id) does not finish")
        }
        return status
    }

    func status(_ requests: AccessRequestStore, _ id: UUID) async throws -> String? {
        try await LeaseStore(requests: requests).get(id)?.status.rawValue
    }

    @Test("due leases are claimed once across concurrent workers; a claim that is not finished is taken again later")
    func claims() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests, claimTimeout: 60)
            let ids = try await activeLeases(requests, 12)
            #expect(try await store.claimDue().isEmpty)  // nothing is due yet
            clock.advance(601)
            let claims = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for _ in 0..<4 { group.addTask { try await store.claimDue(limit: 5).map(\.id) } }
                return try await group.reduce(into: [[UUID]]()) { $0.append($1) }
            }
            let all = claims.flatMap { $0 }
            #expect(all.count == 12 && Set(all) == Set(ids), "\(claims.map(\.count))")
            #expect(try await store.claimDue().isEmpty)  // claimed: not due again until the claim times out
            clock.advance(61)
            let again = try await store.claimDue(limit: 100)
            #expect(again.count == 12 && again.allSatisfy { $0.attempts == 2 && $0.reason == "expired" })
        }
    }

    @Test("a claim by a broker that is gone is taken again at once; a live broker's claim is left alone")
    func claimsOfAGoneBroker() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let (first, second, unregistered) = (UUID(), UUID(), UUID())
            for broker in [first, second] {
                try await database.client.query(
                    "INSERT INTO broker_instances (id, name, cache_window_ms) VALUES (\(broker), 'test', 3000)",
                    logger: logger)
            }
            let byFirst = LeaseRevocationStore(requests: requests, claimTimeout: 300, claimant: first)
            let bySecond = LeaseRevocationStore(requests: requests, claimTimeout: 300, claimant: second)
            let all = try await activeLeases(requests, 4)
            let (ids, more) = (Array(all.prefix(3)), [all[3]])
            clock.advance(601)
            #expect(Set(try await byFirst.claimDue(ids: ids).map(\.id)) == Set(ids))
            // A heartbeat just before each liveness check, as the running broker writes it (a loaded machine can
            // take seconds between two statements here, longer than the liveness window).
            func heartbeat(_ broker: UUID) async throws {
                try await database.client.query(
                    "UPDATE broker_instances SET seen_at = now() WHERE id = \(broker)", logger: logger)
            }
            try await heartbeat(first)
            #expect(try await bySecond.claimDue(ids: ids).isEmpty)  // the first broker is alive: its claims stand

            // Its heartbeat stops (killed): its row is no longer moved.
            try await database.client.query(
                "UPDATE broker_instances SET seen_at = now() - interval '1 minute' WHERE id = \(first)", logger: logger)
            let taken = try await bySecond.claimDue(ids: ids)
            #expect(Set(taken.map(\.id)) == Set(ids) && taken.allSatisfy { $0.attempts == 2 })
            try await heartbeat(second)
            #expect(try await byFirst.claimDue(ids: ids).isEmpty)  // and the second broker's claims stand against it

            // A failed attempt releases the claim: the retry waits for its pause, whoever is gone.
            try await bySecond.failed(taken[0], error: "target down", retryAt: Self.start.addingTimeInterval(700))
            try await database.client.query("DELETE FROM broker_instances WHERE id = \(second)", logger: logger)
            let after = try await byFirst.claimDue(ids: ids)
            #expect(Set(after.map(\.id)) == Set(ids.filter { $0 != taken[0].id }))

            // A claim made by a broker that is not registered records no claimant; it lapses only with its timeout.
            let byUnregistered = LeaseRevocationStore(requests: requests, claimTimeout: 300, claimant: unregistered)
            let mine = try await byUnregistered.claimDue(ids: more)
            #expect(mine.map(\.id) == more)
            #expect(try await bySecond.claimDue(ids: more).isEmpty)
        }
    }

    @Test("finish ends the lease with its events; a failure records the error and retries after the pause")
    func finishAndFail() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests)
            let ids = try await activeLeases(requests, 2)
            #expect(try await store.markForRevocation(ids: [ids[1]], reason: "revoked by alice") == [ids[1]])
            clock.advance(601)
            let claimed = try await store.claimDue()
            let expired = try #require(claimed.first { $0.id == ids[0] })
            let revoked = try #require(claimed.first { $0.id == ids[1] })
            #expect(expired.reason == "expired" && revoked.reason == "revoked by alice")

            try await store.finish(expired, as: try Self.ended(expired), username: expired.username)
            #expect(try await status(requests, ids[0]) == "expired")
            try await store.failed(revoked, error: "cannot connect", retryAt: clock.now().addingTimeInterval(30))
            #expect(try await status(requests, ids[1]) == "revoking")
            #expect(try await LeaseStore(requests: requests).get(ids[1])?.lastError == "cannot connect")
            clock.advance(29)
            #expect(try await store.claimDue().isEmpty)
            clock.advance(2)
            let retry = try #require(try await store.claimDue().first)
            #expect(retry.id == ids[1] && retry.attempts == 2)
            try await store.finish(retry, as: try Self.ended(retry), username: retry.username)
            #expect(try await status(requests, ids[1]) == "revoked")
            try await store.finish(retry, as: try Self.ended(retry), username: retry.username)  // finishing twice changes nothing

            let types = try await AuditReader.events(in: database).map(\.type)
            #expect(types.filter { $0 == "airlock.credential.revoked" }.count == 2)
            #expect(types.filter { $0 == "airlock.lease.expired" }.count == 1)
            #expect(types.filter { $0 == "airlock.credential.revocation_failed" }.count == 1)
        }
    }

    @Test("leases finished at the same moment are recorded together, each with exactly its own events in order; one another worker ended gets none")
    func finishedTogether() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests)
            let ids = try await activeLeases(requests, 40)
            _ = try await store.markForRevocation(ids: Array(ids.suffix(10)), reason: "revoked by alice")
            clock.advance(601)
            let claimed = try await store.claimDue(limit: 100)
            #expect(claimed.count == 40)
            // Another worker ends the first lease before this one does (it took the claim when this one stalled).
            let other = LeaseRevocationStore(requests: requests)
            try await other.finish(claimed[0], as: try Self.ended(claimed[0]), username: claimed[0].username)
            let before = try await AuditReader.events(in: database).count

            try await withThrowingTaskGroup(of: Void.self) { group in
                for lease in claimed {
                    group.addTask { try await store.finish(lease, as: try Self.ended(lease), username: lease.username) }
                }
                try await group.waitForAll()
            }
            for lease in claimed {
                #expect(try await status(requests, lease.id) == (lease.reason == "expired" ? "expired" : "revoked"))
            }
            let written = try await AuditReader.events(in: database).dropFirst(before)
            let bySubject = Dictionary(grouping: written, by: \.subject)
            #expect(bySubject[claimed[0].id.uuidString.lowercased()] == nil)  // ended once, audited once
            for lease in claimed.dropFirst() {
                let types = bySubject[lease.id.uuidString.lowercased()]?.map(\.type) ?? []
                let expected = lease.reason == "expired"
                    ? ["airlock.credential.revoked", "airlock.lease.expired"] : ["airlock.credential.revoked"]
                #expect(types == expected, "\(lease.id): \(types)")
            }
            #expect(written.count == claimed.dropFirst().map { $0.reason == "expired" ? 2 : 1 }.reduce(0, +))
        }
    }

    @Test("an issuance left incomplete is claimed after the timeout, without a username")
    func incompleteIssuance() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests, issuingTimeout: 300)
            let request = try await base.create(requests, Self.permit)
            let intent = try await LeaseStore(requests: requests).begin(
                request.id, by: AccessRequestStoreTests.bob, issuable: ["orders-db": .postgres])
            clock.advance(299)
            #expect(try await store.claimDue().isEmpty)
            clock.advance(2)
            let claimed = try #require(try await store.claimDue().first)
            #expect(claimed.id == intent.lease && claimed.username == nil && claimed.reason == "issuance_incomplete")
        }
    }

    @Test("a failed issuance is revoked, not expired")
    func failedIssuance() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests)
            let request = try await base.create(requests, Self.permit)
            let leases = LeaseStore(requests: requests)
            let intent = try await leases.begin(request.id, by: AccessRequestStoreTests.bob, issuable: ["orders-db": .postgres])
            try await leases.abandon(intent.lease, username: "airlock_readwrite_abcdefghijkl", error: "target refused")
            let claimed = try #require(try await store.claimDue().first)
            #expect(claimed.reason == "issuance_failed" && claimed.username == "airlock_readwrite_abcdefghijkl")
            try await store.finish(claimed, as: try Self.ended(claimed), username: claimed.username)
            #expect(try await status(requests, intent.lease) == "revoked")
        }
    }
}
