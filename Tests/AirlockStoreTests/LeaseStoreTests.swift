import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Pickup, intent first: ``LeaseStore/begin(_:by:issuable:)`` and ``LeaseStore/activate(_:credential:)``
/// write each step in one statement; these tests hold them to the request state machine.
@Suite("Lease store on PostgreSQL", .timeLimit(.minutes(2)))
struct LeaseStoreTests {
    let logger = Support.logger
    let base = AccessRequestStoreTests()
    static let start = AccessRequestStoreTests.start
    static let permit = Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])
    static let issuable: [String: Resource.Kind] = ["orders-db": .postgres]
    static let bob = AccessRequestStoreTests.bob

    func count(_ database: Database, _ sql: String) async throws -> Int64 {
        let rows = try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        return -1
    }

    @Test("begin writes the intent, activate issues the request as the state machine says, once")
    func pickUp() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let leases = LeaseStore(requests: requests)
            let request = try await base.create(requests, Self.permit)
            clock.advance(5)
            let intent = try await leases.begin(request.id, by: Self.bob, issuable: Self.issuable)
            #expect(intent.expiresAt == Self.start.addingTimeInterval(605))
            #expect(intent.resourceID == "orders-db" && intent.role == "readwrite" && intent.requestID == request.id)
            let begun = try #require(try await leases.get(intent.lease))
            #expect(begun.status == .issuing && begun.username == nil)
            #expect(try await requests.get(request.id)?.status == .approved)

            var expected = request.state()
            _ = try expected.apply(.pickUp(at: Self.start.addingTimeInterval(5)))
            clock.advance(1)
            try await leases.activate(intent, credential: .login("airlock_readwrite_abcdefghijkl", for: intent))
            let issued = try #require(try await requests.get(request.id))
            #expect(issued.status == expected.status && issued.closedAt == expected.closedAt)
            #expect(issued.leaseID == intent.lease)
            let active = try #require(try await leases.get(intent.lease))
            #expect(active.status == .active && active.username == "airlock_readwrite_abcdefghijkl")
            #expect(active.issuedAt == Self.start.addingTimeInterval(6))
            #expect(try await base.events(database).last == "airlock.credential.issued")

            let events = try await AuditReader.events(in: database).count
            #expect(await AccessRequestStoreTests.code {
                try await leases.activate(intent, credential: .login("airlock_readwrite_abcdefghijkm", for: intent))
            } == "lease_not_issuing")
            #expect(await AccessRequestStoreTests.code {
                _ = try await leases.begin(request.id, by: Self.bob, issuable: Self.issuable)
            } == "already_retrieved")
            #expect(try await AuditReader.events(in: database).count == events)
            #expect(try await leases.get(intent.lease)?.username == "airlock_readwrite_abcdefghijkl")
        }
    }

    @Test("begin refuses with the state machine's reason and writes nothing")
    func refusals() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let leases = LeaseStore(requests: requests)
            let pending = try await base.create(requests)
            let denied = try await base.create(requests, Decision(outcome: .deny, ttlSeconds: nil, rules: ["d"]))
            let approved = try await base.create(requests, Self.permit)
            let late = try await base.create(requests, Self.permit)
            let mallory = Principal(id: "mallory", kind: .user, groups: ["db-owners"])
            func code(_ id: UUID, by principal: Principal = Self.bob, issuable: [String: Resource.Kind] = Self.issuable) async -> String? {
                await AccessRequestStoreTests.code { _ = try await leases.begin(id, by: principal, issuable: issuable) }
            }
            #expect(await code(UUID()) == "not_found")
            #expect(await code(approved.id, by: mallory) == "not_found")  // someone else's: as if it did not exist
            #expect(await code(pending.id) == "not_approved")
            #expect(await code(denied.id) == "request_closed")
            #expect(await code(approved.id, issuable: [:]) == "not_issuable")
            #expect(await code(approved.id, issuable: ["other-db": .postgres]) == "not_issuable")
            clock.advance(900)  // the pickup window (15 minutes) has passed
            #expect(await code(late.id) == "request_closed")
            #expect(try await count(database, "SELECT count(*) FROM leases") == 0)
        }
    }

    @Test("eight concurrent pickups of one request: one lease, the rest already_retrieved")
    func concurrentPickups() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let leases = LeaseStore(requests: requests)
            let request = try await base.create(requests, Self.permit)
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        await AccessRequestStoreTests.code {
                            _ = try await leases.begin(request.id, by: Self.bob, issuable: Self.issuable)
                        }
                    }
                }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.compactMap { $0 }.allSatisfy { $0 == "already_retrieved" }, "\(outcomes)")
            #expect(try await count(database, "SELECT count(*) FROM leases") == 1)
        }
    }

    @Test("an abandoned lease cannot be activated; the request stays approved and the login goes to revocation")
    func abandoned() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let requests = base.store(database, clock: clock)
            let leases = LeaseStore(requests: requests)
            let request = try await base.create(requests, Self.permit)
            let intent = try await leases.begin(request.id, by: Self.bob, issuable: Self.issuable)
            try await leases.abandon(intent.lease, username: "airlock_readwrite_abcdefghijkl", error: "mint failed")
            #expect(await AccessRequestStoreTests.code {
                try await leases.activate(intent, credential: .login("airlock_readwrite_abcdefghijkl", for: intent))
            } == "lease_not_issuing")
            let lease = try #require(try await leases.get(intent.lease))
            #expect(lease.status == .revoking && lease.username == "airlock_readwrite_abcdefghijkl")
            #expect(lease.lastError == "mint failed")
            #expect(try await requests.get(request.id)?.status == .approved)
            #expect(try await base.events(database).contains("airlock.credential.issued") == false)
            // The expiry sweep leaves a request whose pickup began alone.
            clock.advance(3600)
            #expect(try await requests.expireDue().isEmpty)
        }
    }
}
