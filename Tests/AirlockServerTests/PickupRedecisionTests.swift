import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Issue 10, item 17: a pickup decides the request again with the policy set in force and the requester as they
/// are now; a request the current policy no longer grants closes (`policy_denied`, status `denied`).
@Suite(.serialized)
struct PickupRedecisionTests {
    /// The emergency policy that replaces ``AccessFlowFixture/policies`` while requests are approved and waiting:
    /// read-only is locked down, a backend write needs what it needed before (for 10 minutes at most), and a dba's
    /// write now needs three db-owners.
    static let lockdown = """
        permit "sre-readonly"
          when "sre" in principal.groups and resource.env == "prod" and request.role == "readonly"
           and principal has mfa_age and principal.mfa_age <= 15m
          ttl <= 1h;

        forbid "lockdown"
          when resource.env == "prod" and request.role == "readonly";

        require_approval "prod-write"
          when "backend" in principal.groups and request.role == "readwrite"
          approvers group("db-owners") count 2, group("security") count 1
          ttl <= 10m;

        require_approval "prod-write-dba"
          when "dba" in principal.groups and not ("backend" in principal.groups) and request.role == "readwrite"
          approvers group("db-owners") count 3
          ttl <= 30m;
        """

    @Test("requests approved before an emergency policy change: refused and closed, or issued within the new rules",
          .timeLimit(.minutes(4)))
    func policyChangeReachesApprovedRequests() async throws {
        let fixture = try await AccessFlowFixture.make()
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let dan = try await fixture.token("dan", groups: ["dba"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let frank = try await fixture.token("frank", groups: ["db-owners"])
        let erin = try await fixture.token("erin", groups: ["security"])

        // Under the fixture's policy: three requests approved, none picked up yet.
        let before = try buildApplication(config: fixture.config)
        let ids: [String] = try await before.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (read, asked) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 1800)
            #expect(asked["status"]?.stringValue == "approved")
            let write = try await FlowSteps.approvedWrite(client, requester: bob, approvers: [carol, frank, erin], ttl: 1800)
            let dba = try await FlowSteps.approvedWrite(client, requester: dan, approvers: [carol, frank, erin], ttl: 1800)
            return [read, write, dba]
        }

        // The emergency policy is in force on the broker that serves the pickups.
        let after = try buildApplication(config: try FlowSteps.config(fixture, policies: Self.lockdown))
        try await after.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (read, write, dba) = (ids[0], ids[1], ids[2])

            // A forbid now applies: policy_denied with the current decision, and the request is closed.
            let locked = try await FlowSteps.pickUp(client, read, token: alice)
            #expect(locked.status == .forbidden && locked.json["error"]?["code"] == "policy_denied", "\(locked.json)")
            #expect(locked.json["decision"]?["decision"]?.stringValue == "deny")
            #expect(locked.json["decision"]?["rules"]?.arrayValue?.contains("lockdown") == true, "\(locked.json)")
            #expect(locked.json["status"]?.stringValue == "denied")
            let view = try await client.call(.get, "/v1/access-requests/\(read)", token: alice)
            #expect(view.json["status"]?.stringValue == "denied", "\(view.json)")
            let again = try await FlowSteps.pickUp(client, read, token: alice)
            #expect(again.status == .conflict && again.json["error"]?["code"] == "request_closed", "\(again.json)")

            // A stricter approval rule now applies: the two db-owners given do not make three.
            let stricter = try await FlowSteps.pickUp(client, dba, token: dan)
            #expect(stricter.status == .forbidden && stricter.json["error"]?["code"] == "policy_denied",
                    "\(stricter.json)")
            #expect(try await client.call(.get, "/v1/access-requests/\(dba)", token: dan).json["status"] == "denied")

            // The approvals given still meet the rule that applies now: issued, for no more than it now grants.
            let issued = try await FlowSteps.pickUp(client, write, token: bob)
            #expect(issued.status == .ok, "\(issued.json)")
            let leaseID = try #require(issued.json["lease_id"]?.stringValue)
            let lease = try await client.call(.get, "/v1/leases/\(leaseID)", token: bob)
            let start = try #require(FlowSteps.date(lease.json["issued_at"]))
            let end = try #require(FlowSteps.date(lease.json["expires_at"]))
            // Issued for 600 s; the two instants are taken moments apart (seconds, on a loaded machine).
            #expect(abs(end.timeIntervalSince(start) - 600) < 5, "\(lease.json)")
        }

        let denials = try await FlowSteps.events(fixture).filter {
            $0["type"]?.stringValue == "airlock.access.denied" && $0["data"]?["reason"]?.stringValue == "redecided_at_pickup"
        }
        #expect(Set(denials.compactMap { $0["subject"]?.stringValue }) == [ids[0], ids[2]], "\(denials)")
    }

    @Test("the requester as they are now: a permitted request is refused and closed once their MFA is stale",
          .timeLimit(.minutes(2)))
    func currentAttributesDecide() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let staleAlice = try await fixture.token("alice", groups: ["sre"], mfa: false)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (id, asked) = try await FlowSteps.ask(client, token: alice, role: FlowSteps.readonly, ttl: 600)
            #expect(asked["status"]?.stringValue == "approved")
            let stale = try await FlowSteps.pickUp(client, id, token: staleAlice)
            #expect(stale.status == .forbidden && stale.json["error"]?["code"] == "policy_denied", "\(stale.json)")
            #expect(stale.json["explanation"]?.arrayValue?.isEmpty == false, "\(stale.json)")
            #expect(try await client.call(.get, "/v1/access-requests/\(id)", token: alice).json["status"] == "denied")
            let fresh = try await FlowSteps.pickUp(client, id, token: alice)
            #expect(fresh.status == .conflict && fresh.json["error"]?["code"] == "request_closed", "\(fresh.json)")
        }
    }
}
