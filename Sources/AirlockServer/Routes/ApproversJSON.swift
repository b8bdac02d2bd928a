import AirlockCore
import AirlockStore

/// The `approvers` field of a pending decision: per applying approval rule, each required group, its count, who
/// has approved toward it, and the members Airlock knows of (people who reviewed before as members of that group).
enum ApproversJSON {
    static func make(_ progress: [ApprovalProgress], requests: AccessRequestStore) async throws -> JSONValue {
        let groups = Array(Set(progress.flatMap { $0.requirements.map(\.requirement.group) })).sorted()
        let members = try await requests.knownMembers(of: groups)
        return .array(progress.map { rule in
            .object([
                "rule": .string(rule.rule),
                "requires": .array(rule.requirements.map { requirement in
                    .object([
                        "group": .string(requirement.requirement.group),
                        "count": .int(Int64(requirement.requirement.count)),
                        "approved_by": .array(requirement.assigned.map { .string($0) }),
                        "members": .array((members[requirement.requirement.group] ?? []).map { .string($0) }),
                    ])
                }),
            ])
        })
    }

    /// The approvers of a decision nobody has reviewed yet (`POST /v1/decisions`).
    static func make(_ decision: AccessDecision, requester: String, requests: AccessRequestStore) async throws -> JSONValue {
        try await make(
            ApprovalMatcher.progress(decision.approvals, approvers: [], requester: requester), requests: requests)
    }
}
