import AirlockBroker
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Synchronization
import Testing

/// The revocation sweep wakes at the next expiry instead of polling (issue 13): its timer is armed for the earliest
/// due lease, re-armed when any broker issues a sooner one (`airlock_lease_expiry`), and bounded by a fallback poll.
@Suite(.serialized)
struct RevocationSchedulerTests {
    static let start = ProviderSeamTests.start

    // MARK: - The timer as a value

    @Test("the timer is armed for the earliest of the due moment, what was heard meanwhile and the fallback")
    func armsForTheEarliest() {
        let now = Self.start
        var timer = ExpiryTimer()
        #expect(timer.arm(due: now.addingTimeInterval(3), now: now, fallback: .seconds(60)) == .seconds(3))
        #expect(timer.armedAt == now.addingTimeInterval(3))
        timer.disarm()
        #expect(timer.arm(due: nil, now: now, fallback: .seconds(60)) == .seconds(60))
        timer.disarm()
        #expect(timer.arm(due: now.addingTimeInterval(600), now: now, fallback: .seconds(60)) == .seconds(60))
        timer.disarm()
        // Heard while not waiting (between reading the database and arming): kept for the next arm.
        #expect(timer.heard(now.addingTimeInterval(2)) == false)
        #expect(timer.arm(due: now.addingTimeInterval(30), now: now, fallback: .seconds(60)) == .seconds(2))
        timer.disarm()
        // Something due already that was not claimed: a short pause, never a spin.
        #expect(timer.arm(due: now.addingTimeInterval(-1), now: now, fallback: .seconds(60)) > .zero)
    }

    @Test("a sooner expiry wakes the waiting timer; a later one does not; a lost connection and freed room do")
    func wakesForSooner() {
        let now = Self.start
        var timer = ExpiryTimer()
        _ = timer.arm(due: now.addingTimeInterval(60), now: now, fallback: .seconds(3600))
        #expect(timer.heard(now.addingTimeInterval(90)) == false)
        #expect(timer.heard(now.addingTimeInterval(30)) == true)
        #expect(timer.heard(nil) == true)
        #expect(timer.wake() == true)
        timer.disarm()
        // Not waiting: the next arm looks again at once.
        #expect(timer.wake() == false)
        #expect(timer.arm(due: now.addingTimeInterval(60), now: now, fallback: .seconds(3600)) == .zero)
        #expect(timer.heard(nil) == false)
        #expect(timer.arm(due: now.addingTimeInterval(60), now: now, fallback: .seconds(3600)) == .zero)
    }

    // MARK: - The sweep on a real database

    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Runs `sweep` (and, when `listen`, the expiry listener feeding its timer) while `body` runs; `listening` turns
    /// true once the listener hears every notification.
    static func running<T: Sendable>(
        _ sweep: RevocationSweep, fallback: Duration, listenOn database: Database?, listening: Flag? = nil,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await sweep.run(fallback: fallback) { true } }
            if let database {
                group.addTask {
                    try await LeaseExpiryListener(database: database, logger: TestDatabase.logger) { expiry in
                        sweep.scheduler.heard(expiry)
                        if expiry == nil { listening?.set() }
                    }.run()
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// A sweep of its own over `database` (another pool: it shares nothing with the broker that issues).
    static func sweep(_ database: Database, clock: TestClock, providers: CredentialProviders) throws -> RevocationSweep {
        let store = AccessRequestStore(
            database: database, auditLog: AuditLog(source: "airlock-test", clock: clock), clock: clock,
            logger: TestDatabase.logger)
        let catalog = try ResourceCatalog.parse(
            Data(ProviderSeamTests.resourcesFile.utf8), environment: [:], providedKinds: providers.kinds)
        return RevocationSweep(revocation: CredentialRevocation(
            store: LeaseRevocationStore(requests: store), catalog: catalog, providers: providers,
            retryDelay: { _ in .seconds(5) }, logger: TestDatabase.logger))
    }

    /// Polls `condition` every 20 ms, for at most `seconds` (no timing is asserted: a bound on waiting).
    static func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// True once `scheduler` starts no new wait for `quiet`, tried for at most `seconds` (a spinning sweep never is).
    static func settles(_ scheduler: ExpiryScheduler, quiet: Duration, within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let waits = scheduler.waits
            try? await Task.sleep(for: quiet)
            if scheduler.waits == waits { return true }
        }
        return false
    }

    static func near(_ date: Date?, _ expected: Date) -> Bool {
        guard let date else { return false }
        return abs(date.timeIntervalSince(expected)) < 0.002
    }

    @Test("the sweep sleeps until the earliest expiry and revokes the lease then, with an hour between polls (real clock)",
          .timeLimit(.minutes(2)))
    func wakesAtTheEarliestExpiry() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock.followingSystemTime()
            let broker = try await ProviderSeamTests.broker(database, clock: clock)
            let sweep = try Self.sweep(database, clock: clock, providers: CredentialProviders([broker.provider]))
            let later = try await broker.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 600), by: ProviderSeamTests.alice)
            let soon = try await broker.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 6), by: ProviderSeamTests.alice)
            try await Self.running(sweep, fallback: .seconds(3600), listenOn: nil) {
                let armedForSoon = await Self.eventually(10) { Self.near(sweep.scheduler.armedAt, soon.credential.expiresAt) }
                #expect(armedForSoon, "armed for \(String(describing: sweep.scheduler.armedAt))")
                let revoked = await Self.eventually(30) {
                    broker.provider.revoked.withLock { $0.contains(soon.credential.leaseID) }
                }
                #expect(revoked, "the lease was not revoked at its expiry")
                // Then it sleeps again (until the later lease, or the claim deadline of the one in flight).
                let armedAgain = await Self.eventually(10) {
                    (sweep.scheduler.armedAt ?? .distantPast) > soon.credential.expiresAt.addingTimeInterval(60)
                }
                #expect(armedAgain, "armed for \(String(describing: sweep.scheduler.armedAt))")
                _ = later
            }
            #expect(try await broker.leases.show(soon.credential.leaseID, to: ProviderSeamTests.alice).status == .expired)
            #expect(broker.provider.revoked.withLock { $0 } == [soon.credential.leaseID])
        }
    }

    @Test("another broker issuing a sooner lease re-arms the timer through the expiry notification")
    func rearmedByAnotherBroker() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let other = try await ProviderSeamTests.broker(database, clock: clock)
            let first = try await other.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 600), by: ProviderSeamTests.alice)
            try await TestDatabase.withExisting(database.url) { own in
                let sweep = try Self.sweep(own, clock: clock, providers: CredentialProviders([other.provider]))
                let listening = Flag()
                try await Self.running(sweep, fallback: .seconds(3600), listenOn: own, listening: listening) {
                    let heard = await Self.eventually(10) { listening.isSet }
                    #expect(heard)
                    // Nothing is due for ten minutes: the sweep sleeps, it does not spin. (The listener's start, which
                    // may have missed notifications, wakes it once, at a moment of its own: wait for that to pass.)
                    let sleeps = await Self.settles(sweep.scheduler, quiet: .milliseconds(500), within: 10)
                    #expect(sleeps, "the sweep never slept 500 ms without waking: it spins")
                    let armedForFirst = await Self.eventually(10) { Self.near(sweep.scheduler.armedAt, first.credential.expiresAt) }
                    #expect(armedForFirst)
                    let sooner = try await other.issuance.issueNow(
                        Ask(resource: "notes", role: "reader", ttlSeconds: 60), by: ProviderSeamTests.alice)
                    let rearmed = await Self.eventually(10) { Self.near(sweep.scheduler.armedAt, sooner.credential.expiresAt) }
                    #expect(rearmed, "still armed for \(String(describing: sweep.scheduler.armedAt))")
                    // A later lease does not move it.
                    _ = try await other.issuance.issueNow(
                        Ask(resource: "notes", role: "reader", ttlSeconds: 300), by: ProviderSeamTests.alice)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(Self.near(sweep.scheduler.armedAt, sooner.credential.expiresAt))
                }
            }
            #expect(other.provider.revoked.withLock { $0.isEmpty })
        }
    }

    @Test("a notification missed (nobody listening) is covered by the fallback poll, on the injected clock")
    func missedNotificationCoveredByFallback() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let other = try await ProviderSeamTests.broker(database, clock: clock)
            let later = try await other.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 600), by: ProviderSeamTests.alice)
            try await TestDatabase.withExisting(database.url) { own in
                let sweep = try Self.sweep(own, clock: clock, providers: CredentialProviders([other.provider]))
                try await Self.running(sweep, fallback: .milliseconds(200), listenOn: nil) {
                    // Armed (by the fallback) before the sooner lease exists; its notification reaches nobody.
                    let armed = await Self.eventually(10) { sweep.scheduler.armedAt != nil }
                    #expect(armed)
                    let sooner = try await other.issuance.issueNow(
                        Ask(resource: "notes", role: "reader", ttlSeconds: 60), by: ProviderSeamTests.alice)
                    clock.advance(61)
                    let revoked = await Self.eventually(30) {
                        other.provider.revoked.withLock { $0.contains(sooner.credential.leaseID) }
                    }
                    #expect(revoked, "the fallback poll did not find the lease")
                }
            }
            #expect(other.provider.revoked.withLock { !$0.contains(later.credential.leaseID) })
        }
    }
}
