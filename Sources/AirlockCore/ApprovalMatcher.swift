import AirlockPolicy

/// One requirement of an approval rule, a group's members or one named principal (the policy decision's own type).
public typealias ApprovalRequirement = Decision.Requirement
/// The requirements of one applying `require_approval` rule (the policy decision's own type).
public typealias ApprovalRule = Decision.Approval

/// A principal who approved, with its kind and the groups it held when it approved.
public struct Approver: Sendable, Hashable {
    /// The approver's principal id (compared byte for byte, see ``Principal``).
    public var id: String
    /// Person or service: a service counts only toward requirements that include services.
    public var kind: Principal.Kind
    /// The approver's groups at the time of the approval.
    public var groups: Set<String>

    /// Creates an approver.
    public init(id: String, kind: Principal.Kind, groups: Set<String>) {
        self.id = id
        self.kind = kind
        self.groups = groups
    }

    /// The approver `principal` would be, with its groups now.
    public init(_ principal: Principal) {
        self.init(id: principal.id, kind: principal.kind, groups: Set(principal.groups))
    }

    /// Whether this approver may count toward `requirement`: a member of its group, or the principal it names
    /// (byte for byte); and a person unless the requirement includes services.
    public func mayApprove(_ requirement: ApprovalRequirement) -> Bool {
        guard kind == .user || requirement.includesServices else { return false }
        return switch requirement.approvers {
        case .group(let group): groups.contains(group)
        case .user(let user): Principal.sameID(id, user)
        }
    }

    public static func == (lhs: Approver, rhs: Approver) -> Bool {
        Principal.sameID(lhs.id, rhs.id) && lhs.kind == rhs.kind && lhs.groups == rhs.groups
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(PrincipalID(id))
        hasher.combine(kind)
        hasher.combine(groups)
    }
}

/// How far one approval rule has got: for each requirement, how many approvers a maximum matching assigns to it.
public struct ApprovalProgress: Sendable, Hashable {
    /// One requirement and its state.
    public struct Requirement: Sendable, Hashable {
        /// The group or named principal, and the count it needs.
        public var requirement: ApprovalRequirement
        /// The approvers a maximum matching assigns to this requirement (sorted).
        public var assigned: [String]
        /// Whether one more approval by someone who may meet this requirement (a fresh member of its group, or
        /// the principal it names) would bring the rule closer to approval.
        public var needsMore: Bool
        /// Why this requirement can never be met, whoever approves (the named principal is the requester, or
        /// another requirement of the rule already takes that principal); nil when it can be.
        public var unmeetable: String?
    }

    /// The rule id.
    public var rule: String
    /// Every requirement, in the order written.
    public var requirements: [Requirement]
    /// Whether every requirement is met.
    public var isSatisfied: Bool

    /// Whether the rule can never be met, whoever approves.
    public var isUnmeetable: Bool { requirements.contains { $0.unmeetable != nil } }
}

/// Decides whether the approvals so far satisfy an approval rule, by bipartite matching.
///
/// Within a rule every requirement `group G count N` needs N distinct approvers who are members of G (people
/// only, unless the requirement includes services); one principal counts once, toward at most one requirement;
/// the requester never counts. Principal ids are told apart byte for byte (``PrincipalID``). Whether such an
/// assignment exists is a maximum-flow question (approvers → requirement slots), answered here with augmenting
/// paths (Kuhn's algorithm with capacities), never greedily: an approver in two required groups is assigned to
/// whichever requirement lets the request be approved.
public enum ApprovalMatcher {
    /// The first rule (in the order given) whose requirements are all met, with the assignment that meets them
    /// (approver id → group); nil when none is.
    public static func satisfiedRule(
        _ rules: [ApprovalRule], approvers: [Approver], requester: String
    ) -> (rule: ApprovalRule, assignment: [String: ApprovalRequirement])? {
        for rule in rules {
            let matching = maximumMatching(rule, approvers: approvers, requester: requester)
            if zip(rule.requires, matching).allSatisfy({ $0.count <= $1.count }) {
                var assignment: [String: ApprovalRequirement] = [:]
                for (requirement, assigned) in zip(rule.requires, matching) {
                    for approver in assigned { assignment[approver] = requirement }
                }
                return (rule, assignment)
            }
        }
        return nil
    }

    /// Whether `approvers` satisfy any one of `rules`.
    public static func isSatisfied(_ rules: [ApprovalRule], approvers: [Approver], requester: String) -> Bool {
        satisfiedRule(rules, approvers: approvers, requester: requester) != nil
    }

    /// The progress of each rule: what a maximum matching assigns, which requirements are still needed, and which
    /// can never be met.
    public static func progress(_ rules: [ApprovalRule], approvers: [Approver], requester: String) -> [ApprovalProgress] {
        rules.map { rule in
            let matching = maximumMatching(rule, approvers: approvers, requester: requester)
            let size = matching.reduce(0) { $0 + $1.count }
            let requirements = zip(rule.requires, matching).enumerated().map { index, pair in
                let (requirement, assigned) = pair
                let grown = maximumMatching(rule, approvers: approvers + [hypothetical(for: requirement)], requester: requester)
                return ApprovalProgress.Requirement(
                    requirement: requirement, assigned: assigned.sorted(),
                    needsMore: grown.reduce(0) { $0 + $1.count } > size,
                    unmeetable: unmeetable(index, of: rule, requester: requester))
            }
            let satisfied = zip(rule.requires, matching).allSatisfy { $0.count <= $1.count }
            return ApprovalProgress(rule: rule.rule, requirements: requirements, isSatisfied: satisfied)
        }
    }

    /// Someone who may meet `requirement` and no other requirement of a group: a fresh member of its group, or the
    /// principal it names (in no group).
    private static func hypothetical(for requirement: ApprovalRequirement) -> Approver {
        switch requirement.approvers {
        case .group(let group): Approver(id: "\u{0}hypothetical", kind: .user, groups: [group])
        case .user(let id): Approver(id: id, kind: .user, groups: [])
        }
    }

    /// Why requirement `index` of `rule` can never be met, or nil. Only a requirement that names one principal can
    /// be impossible (a group can always gain members): when that principal is the requester, who never counts, or
    /// when an earlier requirement of the rule names the same principal, who counts once.
    static func unmeetable(_ index: Int, of rule: ApprovalRule, requester: String) -> String? {
        guard case .user(let id) = rule.requires[index].approvers else { return nil }
        if Principal.sameID(id, requester) {
            return "only `\(id)` may approve it, and `\(id)` is the requester, who never counts"
        }
        let earlier = rule.requires[..<index].contains { requirement in
            if case .user(let other) = requirement.approvers { return Principal.sameID(other, id) }
            return false
        }
        return earlier ? "only `\(id)` may approve it, and `\(id)` already counts toward another requirement" : nil
    }

    /// Whether an approval by `candidate` would bring any rule closer to approval: they are not the requester,
    /// have not approved yet, and adding them grows a maximum matching. This is the "may this person still
    /// usefully approve" test for listing pending requests.
    public static func wouldAdvance(
        _ candidate: Approver, rules: [ApprovalRule], approvers: [Approver], requester: String
    ) -> Bool {
        guard !Principal.sameID(candidate.id, requester),
              !approvers.contains(where: { Principal.sameID($0.id, candidate.id) }) else { return false }
        return rules.contains { rule in
            let before = maximumMatching(rule, approvers: approvers, requester: requester).reduce(0) { $0 + $1.count }
            let after = maximumMatching(rule, approvers: approvers + [candidate], requester: requester)
                .reduce(0) { $0 + $1.count }
            return after > before
        }
    }

    /// Whether `reviewer` may count toward some requirement of `rules` (the right to review, approve or deny, at
    /// all): a member of a required group, and a person unless that requirement includes services.
    public static func isEligible(_ reviewer: Approver, for rules: [ApprovalRule]) -> Bool {
        rules.contains { rule in rule.requires.contains(where: reviewer.mayApprove) }
    }

    /// A maximum matching of approvers to the requirement slots of `rule`: for each requirement (in order) the
    /// ids assigned to it. The requester and repeated ids are ignored; requirements with a non-positive count
    /// need nobody.
    static func maximumMatching(_ rule: ApprovalRule, approvers: [Approver], requester: String) -> [[String]] {
        var seen: Set<PrincipalID> = []
        let people = approvers.filter {
            !Principal.sameID($0.id, requester) && seen.insert(PrincipalID($0.id)).inserted
        }
        let capacities = rule.requires.map { max(0, $0.count) }
        // Requirement indices each approver may fill.
        let edges = people.map { person in
            rule.requires.indices.filter { person.mayApprove(rule.requires[$0]) && capacities[$0] > 0 }
        }
        var assigned = Array(repeating: [Int](), count: rule.requires.count)

        func augment(_ person: Int, visited: inout [Bool]) -> Bool {
            for requirement in edges[person] where !visited[requirement] {
                visited[requirement] = true
                if assigned[requirement].count < capacities[requirement] {
                    assigned[requirement].append(person)
                    return true
                }
                for (slot, holder) in assigned[requirement].enumerated() where augment(holder, visited: &visited) {
                    assigned[requirement][slot] = person
                    return true
                }
            }
            return false
        }

        for person in people.indices {
            var visited = Array(repeating: false, count: rule.requires.count)
            _ = augment(person, visited: &visited)
        }
        return assigned.map { $0.map { people[$0].id } }
    }
}
