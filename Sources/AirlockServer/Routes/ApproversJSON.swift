import AirlockBroker
import AirlockCore

/// The `approvers` field of a pending decision: per applying approval rule, each requirement (`group` or `user`),
/// its count, who has approved toward it, who may meet it (`members`: for a group the members Airlock knows of,
/// people who reviewed before as members of it; for a user requirement that one principal), and, when nobody ever
/// can, `unmeetable` with the reason (a requester who is their own manager).
enum ApproversJSON {
    static func make(_ roster: ApproverRoster) -> JSONValue {
        .array(roster.progress.map { rule in
            .object([
                "rule": .string(rule.rule),
                "requires": .array(rule.requirements.map { requirement in
                    guard case .object(var fields) = requirement.requirement.stored else { return .null }
                    fields["approved_by"] = .array(requirement.assigned.map { .string($0) })
                    fields["members"] = .array(roster.mayMeet(requirement).map { .string($0) })
                    if let reason = requirement.unmeetable { fields["unmeetable"] = .string(reason) }
                    return .object(fields)
                }),
            ])
        })
    }
}
