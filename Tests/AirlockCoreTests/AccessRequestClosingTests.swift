import AirlockCore
import AirlockPolicy
import Foundation
import Testing

/// The kill switch and the pickup's re-decision, as transitions of the request machine.
@Suite("Access request state machine: revoke and re-decision at pickup")
struct AccessRequestClosingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let oneOwner = ApprovalRule(rule: "prod-write", requires: [ApprovalRequirement(group: "db-owners", count: 1)])
    static let twoOwners = ApprovalRule(rule: "prod-write", requires: [ApprovalRequirement(group: "db-owners", count: 2)])

    static func pending(_ rule: ApprovalRule, ttl: Int64 = 1800) -> Decision {
        Decision(outcome: .pendingApproval, ttlSeconds: ttl, rules: [rule.rule], approvals: [rule])
    }

    /// bob's request approved by carol (db-owners), as the one-owner rule asks.
    func approvedByCarol() throws -> AccessRequestState {
        var state = AccessRequestState(requester: "bob")
        _ = try state.apply(.decided(Self.pending(Self.oneOwner), at: t0))
        _ = try state.apply(.approve(by: "carol", kind: .user, groups: ["db-owners"], at: t0))
        #expect(state.status == .approved)
        return state
    }

    @Test("revoke closes a pending or approved request as revoked; anything else stays as it is")
    func revoke() throws {
        var pending = AccessRequestState(requester: "bob")
        _ = try pending.apply(.decided(Self.pending(Self.oneOwner), at: t0))
        #expect(try pending.apply(.revoke(at: t0.addingTimeInterval(5))) == .revoke)
        #expect(pending.status == .revoked && pending.closedAt == t0.addingTimeInterval(5) && pending.status.isClosed)
        #expect(AccessRequestStateTests.code { try pending.apply(.approve(by: "carol", kind: .user, groups: ["db-owners"], at: t0)) }
            == .requestClosed)

        var approved = try approvedByCarol()
        #expect(try approved.apply(.revoke(at: t0)) == .revoke)
        #expect(AccessRequestStateTests.code { try approved.apply(.pickUp(at: t0)) } == .requestClosed)
        #expect(try approved.apply(.revoke(at: t0)) == .none)  // twice is harmless

        var issued = try approvedByCarol()
        _ = try issued.apply(.pickUp(at: t0))
        #expect(try issued.apply(.revoke(at: t0)) == .none)
        #expect(issued.status == .issued)
    }

    @Test("a re-decision that still grants confirms the pickup, never for more than either decision grants")
    func confirm() throws {
        var state = try approvedByCarol()
        let permit = Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])
        #expect(try state.apply(.redecided(permit, at: t0)) == .confirm(ttlSeconds: 600))
        #expect(try state.apply(.redecided(Self.pending(Self.oneOwner, ttl: 3600), at: t0)) == .confirm(ttlSeconds: 1800))
        #expect(state.status == .approved)
    }

    @Test("a deny, or approvals the rules that apply now do not accept, close the request as denied")
    func deny() throws {
        var denied = try approvedByCarol()
        let forbid = Decision(outcome: .deny, ttlSeconds: nil, rules: ["lockdown"])
        #expect(try denied.apply(.redecided(forbid, at: t0)) == .deny(reviewer: nil))
        #expect(denied.status == .denied && denied.closedAt == t0)
        #expect(AccessRequestStateTests.code { try denied.apply(.pickUp(at: t0)) } == .requestClosed)

        var stricter = try approvedByCarol()
        #expect(try stricter.apply(.redecided(Self.pending(Self.twoOwners), at: t0)) == .deny(reviewer: nil))
        #expect(stricter.status == .denied)

        // Permitted outright before, needing approval now: nobody approved it.
        var permitted = AccessRequestState(requester: "svc")
        _ = try permitted.apply(.decided(Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"]), at: t0))
        #expect(try permitted.apply(.redecided(Self.pending(Self.oneOwner), at: t0)) == .deny(reviewer: nil))
    }

    @Test("a request that cannot be picked up fails the re-decision as the pickup would, and stays as it is")
    func refusals() throws {
        var pending = AccessRequestState(requester: "bob")
        _ = try pending.apply(.decided(Self.pending(Self.oneOwner), at: t0))
        let permit = Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])
        #expect(AccessRequestStateTests.code { try pending.apply(.redecided(permit, at: t0)) } == .notApproved)
        var late = try approvedByCarol()
        #expect(AccessRequestStateTests.code { try late.apply(.redecided(permit, at: t0.addingTimeInterval(900))) }
            == .requestClosed)
        #expect(late.status == .approved)
        var issued = try approvedByCarol()
        _ = try issued.apply(.pickUp(at: t0))
        #expect(AccessRequestStateTests.code { try issued.apply(.redecided(permit, at: t0)) } == .alreadyRetrieved)
    }
}
