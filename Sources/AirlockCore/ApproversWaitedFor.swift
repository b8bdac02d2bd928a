import AirlockPolicy

/// Whom a pending request waits for: the groups and the named people of the requirements that still need an
/// approval (and can still get one), over every applying approval rule. What the request's notifications name.
public struct ApproversWaitedFor: Sendable, Hashable {
    /// Group names, sorted, each once.
    public var groups: [String]
    /// Principal ids that `user(...)` requirements name, sorted, each once.
    public var users: [String]

    public init(groups: [String] = [], users: [String] = []) {
        self.groups = groups
        self.users = users
    }

    /// From the approval progress of a request (``ApprovalMatcher/progress(_:approvers:requester:)``).
    public init(_ progress: [ApprovalProgress]) {
        var groups: Set<String> = []
        var users: Set<String> = []
        for rule in progress where !rule.isSatisfied {
            for requirement in rule.requirements where requirement.needsMore && requirement.unmeetable == nil {
                switch requirement.requirement.approvers {
                case .group(let name): groups.insert(name)
                case .user(let id): users.insert(id)
                }
            }
        }
        self.init(groups: groups.sorted(), users: users.sorted())
    }

    /// The alert channels that reach them: each group by its name, each person as `user:ID`.
    public var channels: [String] { groups + users.map { "user:" + $0 } }

    /// Nobody (every requirement met, or none can be).
    public var isEmpty: Bool { groups.isEmpty && users.isEmpty }
}
