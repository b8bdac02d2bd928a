@testable import AirlockStore
import AirlockCore
import AirlockTestSupport
import Foundation
import Testing

/// The one statement that records a batch of lease ends is all-or-nothing: when the server refuses it, each end is
/// recorded alone, so one bad end fails alone and the others are kept (issue 13).
@Suite("Recording lease ends in batches", .timeLimit(.minutes(2)))
struct LeaseEndRecordTests {
    let base = AccessRequestStoreTests()

    @Test("a batch the server refuses is recorded end by end: only the end at fault fails")
    func refusedBatch() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(AccessRequestStoreTests.start)
            let requests = base.store(database, clock: clock)
            let store = LeaseRevocationStore(requests: requests)
            let ids = try await LeaseRevocationStoreTests().activeLeases(requests, 3)
            clock.advance(601)
            #expect(try await store.claimDue(limit: 10).count == 3)
            // An event id already in the log: the statement that inserts it again is refused.
            let taken = try await Support.appendCommitted("x", in: database)
            func end(_ lease: UUID, eventID: UUID = UUID()) -> LeaseEnd {
                let row = requests.auditLog.stamp(NewAuditEvent(
                    type: "airlock.credential.revoked", subject: lease.uuidString.lowercased(), data: [:]))
                let event = AirlockStore.AuditRow(
                    id: eventID, type: row.type, subject: row.subject, severity: row.severity, time: row.time,
                    canonical: row.canonical)
                return LeaseEnd(lease: lease, status: .expired, at: clock.now(), username: nil, events: [event])
            }
            let results = await LeaseRevocationStore.record(
                [end(ids[0]), end(ids[1], eventID: taken), end(ids[2])], database: database, logger: Support.logger)
            #expect(results.map { (try? $0.get()) != nil } == [true, false, true])
            let leases = LeaseStore(requests: requests)
            #expect(try await leases.get(ids[0])?.status == .expired)
            #expect(try await leases.get(ids[1])?.status == .revoking)  // nothing of the refused end was kept
            #expect(try await leases.get(ids[2])?.status == .expired)
        }
    }
}
