import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("Access request store on PostgreSQL", .timeLimit(.minutes(2)))
struct AccessRequestStoreTests {
    let logger = Support.logger
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let ordersDB = Resource(
        id: "orders-db", kind: .postgres, env: "prod", owner: "payments", sensitivity: 7,
        postgres: PostgresTarget(host: "127.0.0.1", port: 5432, database: "orders", adminUser: "airlock_admin",
                                 adminPassword: "never-stored-secret"),
        roles: ["readwrite": RoleTemplate(name: "readwrite", grants: [
            .init(privileges: ["SELECT", "INSERT"], objectKind: .table, schema: "public"),
        ])])
    static let pending = Decision(
        outcome: .pendingApproval, ttlSeconds: 1800, rules: ["prod-write"],
        approvals: [ApprovalRule(rule: "prod-write", requires: [
            ApprovalRequirement(group: "db-owners", count: 2), ApprovalRequirement(group: "security", count: 1),
        ])], notify: ["security"])
    static let bob = Principal(id: "bob", kind: .user, groups: ["backend", "db-owners"])
    static let request = NewAccessRequest(
        principal: bob, resourceID: "orders-db", role: "readwrite", ttlSeconds: 3600, reason: "INC-4411",
        ticket: "INC-4411", sourceIP: "10.1.2.3")

    func store(_ database: Database, clock: TestClock) -> AccessRequestStore {
        AccessRequestStore(
            database: database, auditLog: AuditLog(source: "/airlock/test", clock: clock), clock: clock, logger: logger)
    }

    func create(_ store: AccessRequestStore, _ decision: Decision = pending) async throws -> AccessRequestRecord {
        try await store.create(Self.request, resource: Self.ordersDB, decision: decision,
                               evaluationInput: ["principal": ["id": "bob"]], policySetID: nil)
    }

    func events(_ database: Database) async throws -> [String] {
        try await AuditReader.events(in: database).map(\.type)
    }

    static func code(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as AccessRequestError {
            return error.code.rawValue
        } catch let error as StoreError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test("create, get and list; the resource row holds no secret")
    func createGetList() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let store = store(database, clock: clock)
            let created = try await create(store)
            #expect(created.status == .pendingApproval && created.grantedTTLSeconds == 1800)
            #expect(created.decisionDeadline == Self.start.addingTimeInterval(3600))
            #expect(created.sourceIP == "10.1.2.3" && created.ticket == "INC-4411" && created.decision == Self.pending)
            clock.advance(1)  // pages are ordered by creation time, then id
            let denied = try await create(store, Decision(outcome: .deny, ttlSeconds: nil, rules: ["f"]))
            #expect(denied.status == .denied && denied.grantedTTLSeconds == nil)
            #expect(try await store.get(created.id) == created)
            #expect(try await store.get(UUID()) == nil)

            let page1 = try await store.list(principal: "bob", limit: 1)
            #expect(page1.items.map(\.id) == [created.id] && page1.nextCursor == created.id)
            let page2 = try await store.list(principal: "bob", limit: 1, after: page1.nextCursor)
            #expect(page2.items.map(\.id) == [denied.id] && page2.nextCursor == nil)
            #expect(try await store.list(status: .pendingApproval).items.map(\.id) == [created.id])
            let sam = Principal(id: "sam", kind: .user, groups: ["security"])
            #expect(try await store.list(reviewableBy: sam).items.map(\.id) == [created.id])
            #expect(try await store.list(reviewableBy: Self.bob).items.isEmpty)
            #expect(try await store.list(reviewableBy: Principal(id: "eve", kind: .user, groups: ["dev"])).items.isEmpty)

            #expect(try await events(database) == [
                "airlock.access.requested", "airlock.access.approval_needed", "airlock.access.requested",
                "airlock.access.denied",
            ])
            let leaked = try await Support.count(
                "SELECT count(*) FROM resources WHERE (resources.*)::text LIKE '%never-stored-secret%'", in: database)
            let eventLeak = try await AuditReader.events(in: database).filter { $0.event.contains("never-stored-secret") }.count
            #expect(leaked == 0 && eventLeak == 0)
        }
    }

    @Test("bob → two db-owners and one security → approved; self approval, repeats and denials refused")
    func reviewFlow() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let store = store(database, clock: clock)
            let id = try await create(store).id
            #expect(await Self.code { _ = try await store.review(id, by: Self.bob, verdict: .approve) } == "self_approval")
            let alice = Principal(id: "alice", kind: .user, groups: ["db-owners"])
            _ = try await store.review(id, by: alice, verdict: .approve, comment: "ok")
            #expect(await Self.code { _ = try await store.review(id, by: alice, verdict: .approve) } == "already_reviewed")
            let eve = Principal(id: "eve", kind: .user, groups: ["dev"])
            #expect(await Self.code { _ = try await store.review(id, by: eve, verdict: .deny) } == "not_an_approver")
            clock.advance(1)  // reviews are listed by time
            _ = try await store.review(id, by: Principal(id: "dave", kind: .user, groups: ["db-owners"]), verdict: .approve)
            clock.advance(59)
            let approved = try await store.review(id, by: Principal(id: "sam", kind: .user, groups: ["security"]), verdict: .approve)
            #expect(approved.status == .approved && approved.reviews.map(\.reviewer) == ["alice", "dave", "sam"])
            #expect(approved.pickupDeadline == Self.start.addingTimeInterval(60 + 900))
            #expect(approved.reviews.first?.comment == "ok")
            #expect(await Self.code { _ = try await store.review(id, by: Principal(id: "x", kind: .user, groups: ["security"]), verdict: .deny) } == "request_closed")
            #expect(try await events(database) == [
                "airlock.access.requested", "airlock.access.approval_needed", "airlock.access.reviewed",
                "airlock.access.reviewed", "airlock.access.approved",
            ])
            #expect(try await store.knownMembers(of: ["db-owners"]) == ["db-owners": ["alice", "dave"]])

            let second = try await create(store).id
            let denied = try await store.review(second, by: Principal(id: "sam", kind: .user, groups: ["security"]), verdict: .deny)
            #expect(denied.status == .denied && denied.closedAt != nil)
            #expect(try await events(database).last == "airlock.access.denied")
        }
    }

    @Test("a waiting request tells its approvers at once (their channels), reminds them after the delay and escalates after the other, each once and only while it waits (test clock)")
    func remindersAndEscalation() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let store = store(database, clock: clock)
            let nudges = ApprovalNudges(reminderAfterSeconds: 900, escalationAfterSeconds: 1800, escalationGroup: "oncall")
            let waiting = try await create(store).id
            clock.advance(60)
            let decided = try await create(store).id

            // At once: whom it waits for, on their channels beside the policy's.
            let needed = try #require(try await AuditReader.events(in: database).first { $0.type == "airlock.access.approval_needed" })
            let data = try #require(try JSONValue.parse(Data(needed.event.utf8))["data"])
            #expect(data["approver_groups"] == ["db-owners", "security"] && data["approver_users"] == [])
            #expect(data["channels"] == ["db-owners", "security"] && data["severity"] == "info", "\(data)")
            #expect(data["reason"] == "INC-4411" && data["decision_deadline"] != nil)

            // Not yet due; then the first request's reminder, once.
            clock.advance(600)
            #expect(try await store.nudgeDue(nudges) == .init())
            clock.advance(240)  // the first has waited 900 s, the second 840 s
            #expect(try await store.nudgeDue(nudges) == .init(reminded: [waiting]))
            #expect(try await store.nudgeDue(nudges) == .init())

            // One db-owner approves the first; the other is decided (denied), so it is never reminded.
            _ = try await store.review(waiting, by: Principal(id: "alice", kind: .user, groups: ["db-owners"]), verdict: .approve)
            _ = try await store.review(decided, by: Principal(id: "sam", kind: .user, groups: ["security"]), verdict: .deny)
            clock.advance(900)  // the first has waited 1800 s
            #expect(try await store.nudgeDue(nudges) == .init(escalated: [waiting]))
            #expect(try await store.nudgeDue(nudges) == .init())
            let escalated = try #require(try await AuditReader.events(in: database).first { $0.type == "airlock.access.approval_escalated" })
            let escalation = try #require(try JSONValue.parse(Data(escalated.event.utf8))["data"])
            // Still waiting for one more db-owner and for security; the on-call hears of it.
            #expect(escalation["approver_groups"] == ["db-owners", "security"] && escalation["escalated_to"] == "oncall")
            #expect(escalation["channels"] == ["db-owners", "oncall", "security"] && escalation["severity"] == "medium")

            // Past its decision deadline nothing more is sent; the expiry sweep closes it.
            clock.advance(3600)
            #expect(try await store.nudgeDue(nudges) == .init())
            let types = try await events(database)
            #expect(types.filter { $0 == "airlock.access.approval_reminder" }.count == 1)
            #expect(types.filter { $0 == "airlock.access.approval_escalated" }.count == 1)
            #expect(types.filter { $0 == "airlock.access.approval_needed" }.count == 2)
        }
    }

    @Test("an escalation due together with the reminder is one event; with no reminder and no escalation group nothing is sent")
    func escalationAloneAndNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let store = store(database, clock: clock)
            let id = try await create(store).id
            clock.advance(2000)
            #expect(try await store.nudgeDue(ApprovalNudges(reminderAfterSeconds: nil, escalationAfterSeconds: 3600, escalationGroup: nil)) == .init())
            #expect(try await store.nudgeDue(ApprovalNudges(reminderAfterSeconds: 900, escalationAfterSeconds: 1800, escalationGroup: "oncall")) == .init(escalated: [id]))
            #expect(try await store.nudgeDue(ApprovalNudges(reminderAfterSeconds: 900, escalationAfterSeconds: 1800, escalationGroup: "oncall")) == .init())
            #expect(try await events(database).filter { $0 == "airlock.access.approval_reminder" }.isEmpty)
        }
    }

    @Test("expiry with a test clock: pending past its deadline, approved past pickup; exactly once")
    func expiry() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let store = store(database, clock: clock)
            let pending = try await create(store).id
            let permitted = try await create(store, Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])).id
            #expect(try await store.expireDue().isEmpty)
            clock.advance(900)
            #expect(try await store.expireDue() == [permitted])
            clock.advance(2700)
            #expect(try await store.expireDue() == [pending])
            #expect(try await store.expireDue().isEmpty)
            #expect(try await store.get(pending)?.status == .expired)
            #expect(try await events(database).filter { $0 == "airlock.access.expired" }.count == 2)
        }
    }

    @Test("an event appended in a rolled-back transaction disappears with the request")
    func rollback() async throws {
        try await TestDatabase.withDatabase { database in
            let store = store(database, clock: TestClock(Self.start))
            await #expect(throws: (any Error).self) {
                try await database.client.withTransaction(logger: logger) { connection in
                    _ = try await store.create(
                        Self.request, resource: Self.ordersDB, decision: Self.pending, evaluationInput: [:],
                        policySetID: nil, on: connection)
                    throw TestFailure("later step failed")
                }
            }
            let rows = try await Support.count("SELECT count(*) FROM access_requests", in: database)
            let written = try await events(database)
            #expect(rows == 0 && written.isEmpty)
        }
    }

    @Test("concurrent reviews by two approvers are serialised and both recorded: the second sees the first")
    func concurrentReviews() async throws {
        // Two db-owners approve at the same instant; without the row lock each would see only its own approval
        // and the request would stay pending forever.
        let twoOwners = Decision(
            outcome: .pendingApproval, ttlSeconds: 900, rules: ["two-owners"],
            approvals: [ApprovalRule(rule: "two-owners", requires: [ApprovalRequirement(group: "db-owners", count: 2)])])
        try await TestDatabase.withDatabase { database in
            let store = store(database, clock: TestClock(Self.start))
            for _ in 0..<10 {
                let id = try await create(store, twoOwners).id
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for name in ["alice", "dave"] {
                        group.addTask {
                            _ = try await store.review(id, by: Principal(id: name, kind: .user, groups: ["db-owners"]), verdict: .approve)
                        }
                    }
                    try await group.waitForAll()
                }
                let record = try #require(try await store.get(id))
                #expect(Set(record.reviews.map(\.reviewer)) == ["alice", "dave"])
                #expect(record.status == .approved)
            }
            let approvedEvents = try await events(database).filter { $0 == "airlock.access.approved" }.count
            #expect(approvedEvents == 10)
        }
    }
}

extension MintedCredential {
    /// A login's name as a provider would return it (no secret needed by the store).
    static func login(_ username: String, for intent: LeaseIntent) -> MintedCredential {
        MintedCredential(leaseID: intent.lease, expiresAt: intent.expiresAt, username: username, secretFields: [:])
    }
}
