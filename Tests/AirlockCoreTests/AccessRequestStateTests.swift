import AirlockCore
import AirlockPolicy
import Foundation
import Testing

@Suite("Access request state machine")
struct AccessRequestStateTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let prodWrite = ApprovalRule(rule: "prod-write", requires: [
        ApprovalRequirement(group: "db-owners", count: 2), ApprovalRequirement(group: "security", count: 1),
    ])
    static let pending = Decision(
        outcome: .pendingApproval, ttlSeconds: 1800, rules: ["prod-write"], approvals: [prodWrite], notify: ["security"])

    func pendingState(windows: AccessRequestState.Windows = .init()) throws -> AccessRequestState {
        var state = AccessRequestState(requester: "bob", windows: windows)
        let action = try state.apply(.decided(Self.pending, at: t0))
        #expect(action == .awaitApproval(deadline: t0.addingTimeInterval(windows.decision)))
        return state
    }

    @Test("permit approves at once with the decision's ttl and a pickup deadline")
    func permit() throws {
        var state = AccessRequestState(requester: "svc", windows: .init(decision: 60, pickup: 30))
        let action = try state.apply(.decided(Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"]), at: t0))
        #expect(action == .approve(ttlSeconds: 600, pickupDeadline: t0.addingTimeInterval(30), rule: nil, assignment: [:]))
        #expect(state.status == .approved && state.grantedTTLSeconds == 600)
        #expect(try state.apply(.pickUp(at: t0.addingTimeInterval(10))) == .issue(ttlSeconds: 600))
        #expect(state.status == .issued)
        #expect(throws: AccessRequestError(.alreadyRetrieved, "the credential was already retrieved")) {
            try state.apply(.pickUp(at: t0.addingTimeInterval(11)))
        }
    }

    @Test("deny is terminal; a permit without ttl fails closed")
    func deny() throws {
        var state = AccessRequestState(requester: "bob")
        #expect(try state.apply(.decided(Decision(outcome: .deny, ttlSeconds: nil, rules: []), at: t0)) == .deny(reviewer: nil))
        #expect(state.status == .denied && state.closedAt == t0)
        #expect(Self.code { try state.apply(.pickUp(at: t0)) } == .requestClosed)
        #expect(Self.code { try state.apply(.approve(by: "a", kind: .user, groups: ["db-owners"], at: t0)) } == .requestClosed)
        var broken = AccessRequestState(requester: "bob")
        #expect(try broken.apply(.decided(Decision(outcome: .permit, ttlSeconds: nil, rules: ["p"]), at: t0)) == .deny(reviewer: nil))
        #expect(Self.code { try broken.apply(.decided(Self.pending, at: t0)) } == .invalidTransition)
    }

    @Test("bob's request: two db-owners and one security approve → approved, ttl from the decision")
    func approvalFlow() throws {
        var state = try pendingState()
        #expect(Self.code { try state.apply(.pickUp(at: t0)) } == .notApproved)
        #expect(try state.apply(.approve(by: "alice", kind: .user, groups: ["db-owners"], at: t0)) == .recordReview)
        #expect(try state.apply(.approve(by: "dave", kind: .user, groups: ["db-owners"], at: t0)) == .recordReview)
        let at = t0.addingTimeInterval(100)
        let action = try state.apply(.approve(by: "sam", kind: .user, groups: ["security"], at: at))
        #expect(action == .approve(
            ttlSeconds: 1800, pickupDeadline: at.addingTimeInterval(900), rule: "prod-write",
            assignment: [
                "alice": .group("db-owners", count: 2), "dave": .group("db-owners", count: 2),
                "sam": .group("security", count: 1),
            ]))
        #expect(state.status == .approved && state.decidedAt == at)
        #expect(Self.code { try state.apply(.approve(by: "zed", kind: .user, groups: ["security"], at: at)) } == .requestClosed)
    }

    @Test("invalid reviews: self approval, the same person twice, a non-member")
    func invalidReviews() throws {
        var state = try pendingState()
        #expect(Self.code { try state.apply(.approve(by: "bob", kind: .user, groups: ["db-owners", "security"], at: t0)) } == .selfApproval)
        #expect(Self.code { try state.apply(.deny(by: "bob", kind: .user, groups: ["security"], at: t0)) } == .selfApproval)
        try state.apply(.approve(by: "alice", kind: .user, groups: ["db-owners"], at: t0))
        #expect(Self.code { try state.apply(.approve(by: "alice", kind: .user, groups: ["db-owners"], at: t0)) } == .alreadyReviewed)
        #expect(Self.code { try state.apply(.deny(by: "alice", kind: .user, groups: ["db-owners"], at: t0)) } == .alreadyReviewed)
        #expect(Self.code { try state.apply(.approve(by: "mallory", kind: .user, groups: ["dev"], at: t0)) } == .notAnApprover)
        #expect(Self.code { try state.apply(.deny(by: "mallory", kind: .user, groups: ["dev"], at: t0)) } == .notAnApprover)
        #expect(state.status == .pendingApproval && state.reviews.count == 1)
    }

    @Test("a service in the approver groups may neither approve nor deny a people-only request (issue 10, item 12)")
    func servicesDoNotReview() throws {
        var state = try pendingState()
        for groups: Set<String> in [["db-owners"], ["security"], ["db-owners", "security"]] {
            #expect(Self.code { try state.apply(.approve(by: "ci", kind: .service, groups: groups, at: t0)) } == .notAnApprover)
            #expect(Self.code { try state.apply(.deny(by: "ci", kind: .service, groups: groups, at: t0)) } == .notAnApprover)
        }
        #expect(state.status == .pendingApproval && state.reviews.isEmpty)
    }

    @Test("the requester's canonical twin is someone else; the same bytes are the requester (issue 10, item 11)")
    func twinsAreOtherPrincipals() throws {
        var state = AccessRequestState(requester: "jos\u{E9}")
        try state.apply(.decided(Self.pending, at: t0))
        #expect(Self.code { try state.apply(.approve(by: "jos\u{E9}", kind: .user, groups: ["db-owners"], at: t0)) }
            == .selfApproval)
        try state.apply(.approve(by: "jose\u{301}", kind: .user, groups: ["db-owners"], at: t0))
        try state.apply(.approve(by: "\u{212B}", kind: .user, groups: ["db-owners"], at: t0))
        try state.apply(.approve(by: "\u{C5}", kind: .user, groups: ["security"], at: t0))
        #expect(state.status == .approved)
    }

    @Test("a denial by an eligible approver ends the request")
    func denial() throws {
        var state = try pendingState()
        try state.apply(.approve(by: "alice", kind: .user, groups: ["db-owners"], at: t0))
        #expect(try state.apply(.deny(by: "sam", kind: .user, groups: ["security"], at: t0)) == .deny(reviewer: "sam"))
        #expect(state.status == .denied)
        #expect(Self.code { try state.apply(.approve(by: "dave", kind: .user, groups: ["db-owners"], at: t0)) } == .requestClosed)
    }

    @Test("the decision window and the pickup window expire the request")
    func expiry() throws {
        let windows = AccessRequestState.Windows(decision: 3600, pickup: 900)
        var state = try pendingState(windows: windows)
        #expect(try state.apply(.expire(now: t0.addingTimeInterval(3599))) == .none)
        #expect(Self.code { try state.apply(.approve(by: "a", kind: .user, groups: ["db-owners"], at: t0.addingTimeInterval(3600))) } == .requestClosed)
        #expect(try state.apply(.expire(now: t0.addingTimeInterval(3600))) == .expire(.decisionWindow))
        #expect(state.status == .expired)

        var approved = AccessRequestState(requester: "svc", windows: windows)
        try approved.apply(.decided(Decision(outcome: .permit, ttlSeconds: 60, rules: ["p"]), at: t0))
        #expect(try approved.apply(.expire(now: t0.addingTimeInterval(899))) == .none)
        #expect(Self.code { try approved.apply(.pickUp(at: t0.addingTimeInterval(900))) } == .requestClosed)
        #expect(try approved.apply(.expire(now: t0.addingTimeInterval(900))) == .expire(.pickupWindow))
        #expect(try approved.apply(.expire(now: t0.addingTimeInterval(9000))) == .none)
    }

    @Test("the stored decision round-trips and is the policy's own decision JSON")
    func decisionJSON() throws {
        let decision = Decision(
            outcome: .pendingApproval, ttlSeconds: 1800, rules: ["prod-write"], approvals: [Self.prodWrite],
            notify: ["security"], errors: [.init(rule: "x", message: "boom")])
        #expect(try Decision(stored: decision.stored) == decision)
        #expect(try JSONValue.parse(Data(decision.json.utf8)) == decision.stored)
        let deny = Decision(outcome: .deny, ttlSeconds: 5, rules: [])
        #expect(try JSONValue.parse(Data(deny.json.utf8)) == deny.stored)
        guard case .object(let object) = deny.stored else { throw AccessRequestError(.invalidTransition, "not an object") }
        #expect(object["ttl_seconds"] == nil)
        #expect(AccessRequestError.Code.allCases.map(\.rawValue).contains("already_retrieved"))
    }

    static func code(_ body: () throws -> AccessRequestState.Action) -> AccessRequestError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? AccessRequestError)?.code
        }
    }
}
