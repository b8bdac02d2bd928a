import AirlockTestRandom
import AirlockCore
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
        let approvers = [Approver(id: "x", groups: ["db-owners", "security"]), Approver(id: "y", groups: ["db-owners"])]
        let met = try #require(ApprovalMatcher.satisfiedRule([rule], approvers: approvers, requester: "bob"))
        #expect(met.assignment == ["x": "security", "y": "db-owners"])
        // X alone does not satisfy both requirements.
        #expect(!ApprovalMatcher.isSatisfied([rule], approvers: Array(approvers.prefix(1)), requester: "bob"))
    }

    @Test("two db-owners and one security approve prod-write; one person counts once")
    func counts() {
        let owners = [Approver(id: "a", groups: ["db-owners"]), Approver(id: "b", groups: ["db-owners"])]
        let security = Approver(id: "s", groups: ["security"])
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: owners, requester: "bob"))
        #expect(ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: owners + [security], requester: "bob"))
        let both = Approver(id: "z", groups: ["db-owners", "security"])
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: [owners[0], both], requester: "bob"))
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: [both, both, both], requester: "bob"))
    }

    @Test("the requester never counts, even when in every group")
    func requesterExcluded() {
        let approvers = [
            Approver(id: "bob", groups: ["db-owners", "security"]), Approver(id: "a", groups: ["db-owners"]),
            Approver(id: "s", groups: ["security"]),
        ]
        #expect(!ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(ApprovalMatcher.isSatisfied([Self.prodWrite], approvers: approvers, requester: "carol"))
    }

    @Test("rules are alternatives: any one satisfied rule approves, and it is named")
    func alternatives() throws {
        let lead = ApprovalRule(rule: "lead", requires: [ApprovalRequirement(group: "leads", count: 1)])
        let approvers = [Approver(id: "l", groups: ["leads"])]
        let met = try #require(ApprovalMatcher.satisfiedRule([Self.prodWrite, lead], approvers: approvers, requester: "bob"))
        #expect(met.rule.rule == "lead")
        #expect(met.assignment == ["l": "leads"])
    }

    @Test("progress names the requirements still short and who would advance them")
    func progress() throws {
        let approvers = [Approver(id: "x", groups: ["db-owners", "security"])]
        let progress = try #require(ApprovalMatcher.progress([Self.prodWrite], approvers: approvers, requester: "bob").first)
        #expect(!progress.isSatisfied)
        #expect(progress.requirements.allSatisfy { $0.needsMore })
        #expect(ApprovalMatcher.wouldAdvance(
            Approver(id: "y", groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "bob", groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "x", groups: ["security"]), rules: [Self.prodWrite], approvers: approvers, requester: "bob"))
        let full = approvers + [Approver(id: "s", groups: ["security"])]
        #expect(!ApprovalMatcher.wouldAdvance(
            Approver(id: "t", groups: ["security"]), rules: [Self.prodWrite], approvers: full, requester: "bob"))
    }

    @Test("random small cases agree with an exhaustive search over assignments")
    func bruteForce() {
        var generator = SplitMix64(seed: 0xA1B2_C3D4)
        let groups = ["a", "b", "c"]
        for _ in 0..<3000 {
            let requirements = groups.shuffled(using: &generator).prefix(Int.random(in: 1...3, using: &generator))
                .map { ApprovalRequirement(group: $0, count: Int.random(in: 0...2, using: &generator)) }
            let rule = ApprovalRule(rule: "r", requires: requirements)
            let approvers = (0..<Int.random(in: 0...5, using: &generator)).map { index in
                Approver(id: "p\(index)", groups: Set(groups.filter { _ in Bool.random(using: &generator) }))
            }
            let requester = Bool.random(using: &generator) ? "p0" : "nobody"
            let expected = Self.exhaustive(rule, approvers.filter { $0.id != requester })
            let actual = ApprovalMatcher.satisfiedRule([rule], approvers: approvers, requester: requester)
            #expect((actual != nil) == expected, "\(rule) \(approvers) requester \(requester)")
            if let actual {
                // The assignment itself is valid: members only, each requirement filled, requester absent.
                for (approver, group) in actual.assignment {
                    #expect(approver != requester)
                    #expect(approvers.first { $0.id == approver }?.groups.contains(group) == true)
                }
                for requirement in requirements {
                    #expect(actual.assignment.values.filter { $0 == requirement.group }.count >= requirement.count)
                }
            }
        }
    }

    /// Tries every way of giving each approver one requirement or none.
    static func exhaustive(_ rule: ApprovalRule, _ approvers: [Approver]) -> Bool {
        func search(_ index: Int, _ filled: [Int]) -> Bool {
            if zip(rule.requires, filled).allSatisfy({ $0.count <= $1 }) { return true }
            guard index < approvers.count else { return false }
            if search(index + 1, filled) { return true }
            for (slot, requirement) in rule.requires.enumerated() where approvers[index].groups.contains(requirement.group) {
                var next = filled
                next[slot] += 1
                if search(index + 1, next) { return true }
            }
            return false
        }
        return search(0, Array(repeating: 0, count: rule.requires.count))
    }
}

