import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 10, item 5: renewal never passes what the approvers approved.
@Suite(.serialized)
struct RenewalLimitTests {
    @Test("a production write approved for 60 s cannot be renewed by its owner to 30 min",
          .timeLimit(.minutes(3)))
    func approvedGrantStaysWithinTheApprovedTTL() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dave = try await fixture.token("dave", groups: ["db-owners"])
        let erin = try await fixture.token("erin", groups: ["security"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let id = try await FlowSteps.approvedWrite(client, requester: bob, approvers: [carol, dave, erin], ttl: 60)
            let creds = try await FlowSteps.pickUp(client, id, token: bob)
            #expect(creds.status == .ok, "\(creds.json)")
            let leaseID = try #require(creds.json["lease_id"]?.stringValue)
            let user = try #require(creds.json["username"]?.stringValue)
            let lease = try await client.call(.get, "/v1/leases/\(leaseID)", token: bob)
            let issued = try #require(FlowSteps.date(lease.json["issued_at"]))
            let firstExpiry = try #require(FlowSteps.date(lease.json["expires_at"]))
            // The expiry counts from the pickup that began the lease; `issued_at` is the activation, later by as long
            // as the target took to create the login (seconds on a loaded machine).
            #expect(firstExpiry.timeIntervalSince(issued) <= 60 && firstExpiry.timeIntervalSince(issued) > 30,
                    "\(lease.json)")

            // The rule allows 30 min, the approvers approved 60 s: the owner cannot stretch it.
            let renewed = try await client.call(.post, "/v1/leases/\(leaseID)/renew", token: bob,
                                                body: #"{"ttl_seconds": 1800}"#)
            #expect(renewed.status == .ok, "\(renewed.json)")
            let expiry = try #require(FlowSteps.date(renewed.json["expires_at"]))
            #expect(expiry.timeIntervalSince(issued) <= 60.5, "renewed past the approved ttl: \(renewed.json)")

            // Nor does the login's own VALID UNTIL move.
            let validUntil = try await TestDatabase.withExisting(fixture.target) { database in
                let rows = try await database.client.query(
                    "SELECT rolvaliduntil FROM pg_roles WHERE rolname = \(user)", logger: TestDatabase.logger)
                for try await date in rows.decode(Date.self) { return date }
                return Date.distantFuture
            }
            #expect(validUntil.timeIntervalSince(issued) <= 60.5, "VALID UNTIL moved to \(validUntil)")
        }
        let types = try await FlowSteps.events(fixture).compactMap { $0["type"]?.stringValue }
        #expect(!types.contains("airlock.lease.renewed"), "\(types)")
    }
}
