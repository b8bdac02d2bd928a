import AirlockPolicy
/// How a re-decided request differs from its stored decision (what `airlock policy replay` reports).
///
/// Only what changes the access someone would get counts: the outcome, the TTL granted (when both decisions
/// grant one: permit or pending), and who must approve (when both are pending). Approval alternatives are
/// compared as requirements, not by rule id, and each rule's requirements as a set, so renaming a rule or
/// reordering its groups is no change. The rules, `notify` channels and errors are carried along for the report
/// but on their own change nothing.
public struct DecisionChange: Sendable, Hashable {
    /// One way two decisions differ.
    public enum Aspect: String, Sendable, Hashable, CaseIterable {
        /// permit, pending_approval or deny.
        case outcome
        /// The seconds granted (or granted on approval).
        case ttl
        /// The approval requirements of a pending decision.
        case approvals
    }

    /// The stored decision.
    public var before: Decision
    /// The decision under the proposed policy set.
    public var after: Decision
    /// What differs, in ``Aspect`` order; never empty.
    public var aspects: [Aspect]

    /// The change from `before` to `after`, or nil when both grant the same access.
    public static func between(_ before: Decision, _ after: Decision) -> DecisionChange? {
        var aspects: [Aspect] = []
        if before.outcome != after.outcome { aspects.append(.outcome) }
        if before.outcome != .deny, after.outcome != .deny, before.ttlSeconds != after.ttlSeconds {
            aspects.append(.ttl)
        }
        if before.outcome == .pendingApproval, after.outcome == .pendingApproval,
           requirements(before) != requirements(after) {
            aspects.append(.approvals)
        }
        guard !aspects.isEmpty else { return nil }
        return DecisionChange(before: before, after: after, aspects: aspects)
    }

    /// The approval alternatives of `decision`, each as the set of its requirements.
    static func requirements(_ decision: Decision) -> Set<Set<ApprovalRequirement>> {
        Set(decision.approvals.map { Set($0.requires) })
    }
}
