import AirlockTestRandom
import AirlockCore
import AirlockPolicy
import Foundation
import Testing

@Suite("Approval matching")
struct ApprovalMatcherTests {
    static let prodWrite = ApprovalRule(rule: "prod-write", requires: [
        ApprovalRequirement(group: "db-owners", count: 2), ApprovalRequirement(group: "security", count: 1),
    ])

    @Test("the greedy trap: X in both groups approves first, Y only in db-owners second → approvable")
    func greedyTrap() throws {
        let rule = ApprovalRule(rule: "r", requires: [
            ApprovalRequirement(group: "db-owners", count: 1), ApprovalRequirement(group: "security", count: 1),
        ])
        let approvers = [Approver(id: "x", kind: .user, groups: ["db-owners", "security"]), Approver(id: "y", kind: .user, groups: ["db-owners"])]
        let met = try #require(ApprovalMatcher.satisfiedRule([rule], approvers: approvers, requester: "bob"))
        #expect(met.assignment.mapValues(\.group) == ["x": "security", "y": "db-owners"])
        // X alone does not satisfy both requirements.
        #expect(!ApprovalMatcher.isSatisfied([rule], approvers: Array(approvers.prefix(1)), requester: "bob"))
    }

    @Test("two db-owners and one security approve prod-write; one person counts once")
    func counts() {
        let owners = [Approver(id: "a", kind: .user, groups: ["db-owners"]), Approver(id: "b", kind: .user, groups: ["db-owners"])]
        let security = Approver(id: "s", kind: .user, groups: ["security"])
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: owners, requester: "bob"))
        #expect(ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: owners + [security], requester: "bob"))
        let both = Approver(id: "z", kind: .user, groups: ["db-owners", "security"])
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: [owners[0], both], requester: "bob"))
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: [both, both, both], requester: "bob"))
    }

    @Test("the requester never counts, even when in every group")
    func requesterExcluded() {
        let approvers = [
            Approver(id: "bob", kind: .user, groups: ["db-owners", "security"]), Approver(id: "a", kind: .user, groups: ["db-owners"]),
            Approver(id: "s", kind: .user, groups: ["security"]),
        ]
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: approvers, requester: "carol"))
    }

    @Test("rules are alternatives: any one satisfied rule approves, and it is named")
    func alternatives() throws {
        let lead = ApprovalRule(rule: "lead", requires: [ApprovalRequirement(group: "leads", count: 1)])
        let approvers = [Approver(id: "l", kind: .user, groups: ["leads"])]
        let met = try #require(ApprovalMatcher.satisfiedRule([Self.prodWrite, lead], approvers: approvers, requester: "bob"))
        #expect(met.rule.rule == "lead")
        #expect(met.assignment.mapValues(\.group) == ["l": "leads"])
    }

    @Test("progress names the requirements still short and who would advance them")
    func progress() throws {
        let approvers = [Approver(id: "x", kind: .user, groups: ["db-owners", "security"])]
        let progress = try #require(ApprovalMatcher.progress([Self.prodWrite], approvers: approvers, requester: "bob").first)
        #expect(!progress.isSatisfied)
        #expect(progress.requirements.allSatisfy { $0.needsMore })
        #expect(ApprovalMatcher.wouldAdvance(
            Approver(id: "y", kind: .user, groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "bob", kind: .user, groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "x", kind: .user, groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        let full = approvers + [Approver(id: "s", kind: .user, groups: ["security"])]
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "t", kind: .user, groups: ["security"]), rules: [Self.prodWrite], approvers: full, requester: "bob"))
    }

    @Test("a service in an approver group counts only toward a requirement that includes services (issue 10, item 12)")
    func servicesCountOnlyWhereIncluded() throws {
        let ci = Approver(id: "https://k8s.example#ci", kind: .service, groups: ["db-owners", "security"])
        let owner = Approver(id: "alice", kind: .user, groups: ["db-owners"])
        let officer = Approver(id: "sam", kind: .user, groups: ["security"])
        // prod-write: two db-owners and one security, people only. The service is neither.
        #expect(!ApprovalMatcher.isEligible(ci, for: [Self.prodWrite]))
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: [owner, ci, officer], requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(ci, rules: [Self.prodWrite], approvers: [owner], requester: "bob"))
        // The same groups, with security including services: the service may fill security, never db-owners.
        let gated = ApprovalRule(rule: "gated", requires: [
            ApprovalRequirement(group: "db-owners", count: 1),
            ApprovalRequirement(group: "security", count: 1, includesServices: true),
        ])
        #expect(ApprovalMatcher.isEligible(ci, for: [gated]))
        let met = try #require(ApprovalMatcher.satisfiedRule([gated], approvers: [ci, owner], requester: "bob"))
        #expect(met.assignment.mapValues(\.group) == ["https://k8s.example#ci": "security", "alice": "db-owners"])
        #expect(!ApprovalMatcher.isSatisfied([gated], approvers: [ci], requester: "bob"))
    }

    @Test("a stored decision keeps `including services`; one stored before it existed needs people")
    func storedDecisionKeepsTheFlag() throws {
        let decision = Decision(outcome: .pendingApproval, ttlSeconds: 60, rules: ["r"], approvals: [
            ApprovalRule(rule: "r", requires: [
                ApprovalRequirement(group: "a", count: 1), ApprovalRequirement(group: "b", count: 1, includesServices: true),
            ]),
        ])
        #expect(decision.stored["approvals"]?[0]?["requires"]?[1]?["services"] == true)
        #expect(decision.stored["approvals"]?[0]?["requires"]?[0]?["services"] == nil)
        #expect(try Decision(stored: decision.stored) == decision)
        let old = try JSONValue.parse(#"""
            {"decision": "pending_approval", "ttl_seconds": 60, "rules": ["r"], "notify": [], "errors": [],
             "approvals": [{"rule": "r", "requires": [{"group": "g", "count": 1}]}]}
            """#)
        #expect(try Decision(stored: old).approvals.first?.requires.first?.includesServices == false)
    }

    @Test("canonically equivalent ids are different principals: compared byte for byte (issue 10, item 11)")
    func idsCompareAsBytes() {
        let composed = "jos\u{E9}"          // josé, U+00E9
        let decomposed = "jose\u{301}"      // jose + combining acute: canonically equivalent, other bytes
        #expect(composed == decomposed)     // what Swift's String == says, and why it must not be used for ids
        #expect(!Principal.sameID(composed, decomposed))
        #expect(!Principal.sameID("\u{212B}", "\u{C5}"))  // ANGSTROM SIGN and LATIN CAPITAL A WITH RING ABOVE
        #expect(PrincipalID(composed) != PrincipalID(decomposed))
        #expect(Set([PrincipalID(composed), PrincipalID(decomposed)]).count == 2)
        // The requester's canonical twin is another person: their approval counts, and two twins count twice.
        let rule = ApprovalRule(rule: "r", requires: [ApprovalRequirement(group: "db-owners", count: 2)])
        let twins = [Approver(id: composed, kind: .user, groups: ["db-owners"]),
                     Approver(id: decomposed, kind: .user, groups: ["db-owners"])]
        #expect(ApprovalMatcher.isSatisfied([rule], approvers: twins, requester: "bob"))
        #expect(!ApprovalMatcher.isSatisfied([rule], approvers: twins, requester: composed))
        #expect(ApprovalMatcher.wouldAdvance(twins[1], rules: [rule], approvers: [twins[0]], requester: "bob"))
        // Ownership: a principal owns only what carries its own bytes.
        let alice = Principal(id: composed, kind: .user)
        #expect(alice.owns(composed) && !alice.owns(decomposed))
        #expect(alice != Principal(id: decomposed, kind: .user))
    }

    @Test("random small cases agree with an exhaustive search over assignments")
    func bruteForce() {
        var generator = SplitMix64(seed: 0xA1B2_C3D4)
        let groups = ["a", "b", "c"]
        for _ in 0..<3000 {
            // Group requirements, and user requirements naming an approver (possibly the requester, possibly twice).
            var requirements = groups.shuffled(using: &generator).prefix(Int.random(in: 1...3, using: &generator))
                .map { ApprovalRequirement(
                    group: $0, count: Int.random(in: 0...2, using: &generator),
                    includesServices: Bool.random(using: &generator)) }
            for _ in 0..<Int.random(in: 0...2, using: &generator) {
                let user = ApprovalRequirement.user(
                    "p\(Int.random(in: 0...5, using: &generator))", includesServices: Bool.random(using: &generator))
                requirements.insert(user, at: Int.random(in: 0...requirements.count, using: &generator))
            }
            let rule = ApprovalRule(rule: "r", requires: requirements)
            let approvers = (0..<Int.random(in: 0...5, using: &generator)).map { index in
                Approver(
                    id: "p\(index)", kind: Bool.random(using: &generator) ? .user : .service,
                    groups: Set(groups.filter { _ in Bool.random(using: &generator) }))
            }
            let requester = Bool.random(using: &generator) ? "p0" : "nobody"
            let expected = Self.exhaustive(rule, approvers.filter { $0.id != requester })
            let actual = ApprovalMatcher.satisfiedRule([rule], approvers: approvers, requester: requester)
            #expect((actual != nil) == expected, "\(rule) \(approvers) requester \(requester)")
            if let actual {
                // The assignment itself is valid: members only (services only where included), each requirement
                // filled, requester absent.
                for (approver, requirement) in actual.assignment {
                    #expect(approver != requester)
                    let who = approvers.first { $0.id == approver }
                    #expect(who.map { $0.mayApprove(requirement) } == true)
                }
                for requirement in requirements {
                    #expect(actual.assignment.values.filter { $0 == requirement }.count >= requirement.count)
                }
            }
        }
    }

    /// Whether `requirement` names `approver`: a member of its group, or the very principal it names.
    static func named(_ approver: Approver, by requirement: Decision.Requirement) -> Bool {
        switch requirement.approvers {
        case .group(let group): approver.groups.contains(group)
        case .user(let id): approver.id == id
        }
    }

    /// Tries every way of giving each approver one requirement or none.
    static func exhaustive(_ rule: ApprovalRule, _ approvers: [Approver]) -> Bool {
        func search(_ index: Int, _ filled: [Int]) -> Bool {
            if zip(rule.requires, filled).allSatisfy({ $0.count <= $1 }) { return true }
            guard index < approvers.count else { return false }
            if search(index + 1, filled) { return true }
            for (slot, requirement) in rule.requires.enumerated()
            where Self.named(approvers[index], by: requirement)
                && (approvers[index].kind == .user || requirement.includesServices) {
                var next = filled
                next[slot] += 1
                if search(index + 1, next) { return true }
            }
            return false
        }
        return search(0, Array(repeating: 0, count: rule.requires.count))
    }
}

