import AirlockCore
import AirlockPolicy
import Foundation
import Testing

/// Requirements named by attributes, once read: `user(principal.manager)` became `.user("erin")` and
/// `group(resource.owner)` became `.group("payments")`. Who counts, who may still approve, and what can never be met.
@Suite("Approval routing: user requirements")
struct ApprovalRoutingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    /// `approvers user(principal.manager), group(resource.owner) count 1` for bob (manager erin) on a payments database.
    static let managerAndOwner = ApprovalRule(rule: "owner-and-manager", requires: [.user("erin"), .group("payments", count: 1)])

    static let carol = Approver(id: "carol", kind: .user, groups: ["payments"])
    static let erin = Approver(id: "erin", kind: .user, groups: ["managers"])
    static let dave = Approver(id: "dave", kind: .user, groups: ["search"])

    @Test("only the named principal meets a user requirement; the owning team meets the group one")
    func onlyTheNamedPrincipal() throws {
        let rules = [Self.managerAndOwner]
        #expect(!ApprovalMatcher.isSatisfied(rules, approvers: [Self.carol], requester: "bob"))
        #expect(!ApprovalMatcher.isSatisfied(rules, approvers: [Self.erin], requester: "bob"))
        #expect(!ApprovalMatcher.isSatisfied(rules, approvers: [Self.carol, Self.dave], requester: "bob"))
        // Someone else in the same groups as erin is not erin; a canonically equivalent id is another principal.
        let notErin = Approver(id: "erin2", kind: .user, groups: ["managers", "payments"])
        #expect(!ApprovalMatcher.isSatisfied(rules, approvers: [Self.carol, notErin], requester: "bob"))
        let met = try #require(ApprovalMatcher.satisfiedRule(rules, approvers: [Self.erin, Self.carol], requester: "bob"))
        #expect(met.assignment == ["erin": .user("erin"), "carol": .group("payments", count: 1)])
    }

    @Test("a manager in the owning team counts once: erin alone does not meet both requirements")
    func managerCountsOnce() {
        let erinInPayments = Approver(id: "erin", kind: .user, groups: ["payments"])
        #expect(!ApprovalMatcher.isSatisfied([Self.managerAndOwner], approvers: [erinInPayments], requester: "bob"))
        // carol first, then erin: erin goes to the user requirement whatever order (matching, not greedy).
        #expect(ApprovalMatcher.isSatisfied([Self.managerAndOwner], approvers: [erinInPayments, Self.carol], requester: "bob"))
    }

    @Test("a service named by a user requirement counts only when the requirement includes services")
    func servicesOnlyWhereIncluded() {
        let service = Approver(id: "token:bot", kind: .service, groups: [])
        let people = ApprovalRule(rule: "r", requires: [.user("token:bot")])
        let services = ApprovalRule(rule: "r", requires: [.user("token:bot", includesServices: true)])
        #expect(!ApprovalMatcher.isSatisfied([people], approvers: [service], requester: "bob"))
        #expect(ApprovalMatcher.isSatisfied([services], approvers: [service], requester: "bob"))
    }

    @Test("a requester who is their own manager: the requirement can never be met, and progress says why")
    func ownManager() throws {
        let rule = ApprovalRule(rule: "owner-and-manager", requires: [.user("erin"), .group("payments", count: 1)])
        let progress = try #require(ApprovalMatcher.progress([rule], approvers: [Self.carol], requester: "erin").first)
        #expect(!progress.isSatisfied && progress.isUnmeetable)
        #expect(progress.requirements[0].unmeetable?.contains("requester") == true)
        #expect(!progress.requirements[0].needsMore)
        #expect(progress.requirements[1].unmeetable == nil && progress.requirements[1].assigned == ["carol"])
        // Her own approval never counts, with any number of others.
        let erinApproves = Approver(id: "erin", kind: .user, groups: ["payments"])
        #expect(!ApprovalMatcher.isSatisfied([rule], approvers: [erinApproves, Self.carol], requester: "erin"))
        // For bob the same rule is meetable.
        let forBob = try #require(ApprovalMatcher.progress([rule], approvers: [], requester: "bob").first)
        #expect(!forBob.isUnmeetable && forBob.requirements.allSatisfy(\.needsMore))
    }

    @Test("the same principal named twice: the second requirement can never be met")
    func sameUserTwice() throws {
        let rule = ApprovalRule(rule: "r", requires: [.user("erin"), .user("erin")])
        let progress = try #require(ApprovalMatcher.progress([rule], approvers: [Self.erin], requester: "bob").first)
        #expect(progress.requirements[0].unmeetable == nil)
        #expect(progress.requirements[1].unmeetable?.contains("another requirement") == true)
        #expect(!ApprovalMatcher.isSatisfied([rule], approvers: [Self.erin], requester: "bob"))
    }

    @Test("who may still approve: someone who can meet a still-unmet requirement, nobody else")
    func wouldAdvance() {
        let rules = [Self.managerAndOwner]
        let alsoPayments = Approver(id: "frank", kind: .user, groups: ["payments"])
        #expect(ApprovalMatcher.wouldAdvance(Self.carol, rules: rules, approvers: [], requester: "bob"))
        #expect(ApprovalMatcher.wouldAdvance(Self.erin, rules: rules, approvers: [], requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(Self.dave, rules: rules, approvers: [], requester: "bob"))
        // Once carol has approved, the owning team's requirement is met: only erin can still help.
        #expect(!ApprovalMatcher.wouldAdvance(alsoPayments, rules: rules, approvers: [Self.carol], requester: "bob"))
        #expect(ApprovalMatcher.wouldAdvance(Self.erin, rules: rules, approvers: [Self.carol], requester: "bob"))
    }

    func pending(for requester: String, rules: [ApprovalRule] = [managerAndOwner]) throws -> AccessRequestState {
        var state = AccessRequestState(requester: requester)
        let decision = Decision(
            outcome: .pendingApproval, ttlSeconds: 900, rules: rules.map(\.rule), approvals: rules)
        _ = try state.apply(.decided(decision, at: t0))
        return state
    }

    @Test("the state machine: dave may not approve; a second owner may not once the owners' requirement is met")
    func reviewRights() throws {
        var state = try pending(for: "bob")
        #expect(Self.code { try state.apply(.approve(by: "dave", kind: .user, groups: ["search"], at: t0)) } == .notAnApprover)
        #expect(try state.apply(.approve(by: "carol", kind: .user, groups: ["payments"], at: t0)) == .recordReview)
        #expect(Self.code { try state.apply(.approve(by: "frank", kind: .user, groups: ["payments"], at: t0)) } == .notAnApprover)
        #expect(state.status == .pendingApproval)
        let action = try state.apply(.approve(by: "erin", kind: .user, groups: [], at: t0))
        guard case .approve(_, _, "owner-and-manager", let assignment) = action else {
            Issue.record("expected approval, got \(action)")
            return
        }
        #expect(assignment == ["carol": .group("payments", count: 1), "erin": .user("erin")])
    }

    @Test("a member of the owning team may still deny after the owners' requirement is met")
    func denyStaysOpenToApprovers() throws {
        var state = try pending(for: "bob")
        _ = try state.apply(.approve(by: "carol", kind: .user, groups: ["payments"], at: t0))
        #expect(try state.apply(.deny(by: "frank", kind: .user, groups: ["payments"], at: t0)) == .deny(reviewer: "frank"))
    }

    @Test("erin's own request with herself as manager waits; her approval is self-approval")
    func ownRequestWaits() throws {
        var state = try pending(for: "erin")
        #expect(Self.code { try state.apply(.approve(by: "erin", kind: .user, groups: ["payments"], at: t0)) } == .selfApproval)
        #expect(try state.apply(.approve(by: "carol", kind: .user, groups: ["payments"], at: t0)) == .recordReview)
        #expect(state.status == .pendingApproval)
        #expect(try state.apply(.expire(now: t0.addingTimeInterval(3_600))) == .expire(.decisionWindow))
    }

    @Test("stored decisions keep user requirements, and refuse a user requirement with a count other than 1")
    func storedRoundTrip() throws {
        let decision = Decision(
            outcome: .pendingApproval, ttlSeconds: 900, rules: ["owner-and-manager"], approvals: [Self.managerAndOwner])
        #expect(try Decision(stored: decision.stored) == decision)
        let stored = decision.stored.canonicalString()
        #expect(stored.contains(#"{"count":1,"user":"erin"}"#))
        let tampered = try JSONValue.parse(stored.replacingOccurrences(of: #""count":1,"user""#, with: #""count":2,"user""#))
        #expect(throws: AccessRequestError.self) { try Decision(stored: tampered) }
    }

    static func code(_ body: () throws -> Void) -> AccessRequestError.Code? {
        do {
            try body()
            return nil
        } catch let error as AccessRequestError {
            return error.code
        } catch {
            return nil
        }
    }
}
