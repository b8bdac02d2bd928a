import AirlockBroker
import AirlockCore

/// The `approvers` field of a pending decision: per applying approval rule, each required group, its count, who
/// has approved toward it, and the members Airlock knows of (people who reviewed before as members of that group).
enum ApproversJSON {
    static func make(_ roster: ApproverRoster) -> JSONValue {
        .array(roster.progress.map { rule in
            .object([
                "rule": .string(rule.rule),
                "requires": .array(rule.requirements.map { requirement in
                    var fields: [String: JSONValue] = [
                        "group": .string(requirement.requirement.group),
                        "count": .int(Int64(requirement.requirement.count)),
                        "approved_by": .array(requirement.assigned.map { .string($0) }),
                        "members": .array((roster.knownMembers[requirement.requirement.group] ?? []).map { .string($0) }),
                    ]
                    if requirement.requirement.includesServices { fields["services"] = .bool(true) }
                    return .object(fields)
                }),
            ])
        })
    }
}
