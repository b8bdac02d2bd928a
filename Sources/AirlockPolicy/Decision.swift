/// The answer to one access request under a policy set.
public struct Decision: Sendable, Hashable {
    /// What was decided.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// Access is granted now.
        case permit
        /// Access is granted once the approvals of one applying `require_approval` rule are in.
        case pendingApproval = "pending_approval"
        /// Access is refused, by a `forbid` or by default.
        case deny
    }

    /// One requirement of an approval alternative, with the attribute values of the rule already read:
    /// `count` distinct members of a group, or the one named principal; people only, unless `includesServices`
    /// (`including services` in the rule).
    public struct Requirement: Sendable, Hashable {
        /// Who may meet a requirement.
        public enum Approvers: Sendable, Hashable {
            /// Members of this group (`group("db-owners")`, or `group(resource.owner)` once read).
            case group(String)
            /// This principal id and nobody else (`user(principal.manager)` once read).
            case user(String)
        }

        /// Who may meet it.
        public var approvers: Approvers
        /// How many distinct approvers must approve (always 1 for a user requirement).
        public var count: Int
        /// Whether service principals count too (`"services": true` in the decision JSON).
        public var includesServices: Bool

        /// Creates a requirement.
        public init(_ approvers: Approvers, count: Int, includesServices: Bool = false) {
            self.approvers = approvers
            self.count = count
            self.includesServices = includesServices
        }

        /// `count` members of `group`.
        public init(group: String, count: Int, includesServices: Bool = false) {
            self.init(.group(group), count: count, includesServices: includesServices)
        }

        /// `count` members of `group`.
        public static func group(_ group: String, count: Int, includesServices: Bool = false) -> Requirement {
            Requirement(.group(group), count: count, includesServices: includesServices)
        }

        /// The principal `id`'s own approval.
        public static func user(_ id: String, includesServices: Bool = false) -> Requirement {
            Requirement(.user(id), count: 1, includesServices: includesServices)
        }

        /// The group, for a group requirement.
        public var group: String? {
            if case .group(let name) = approvers { return name }
            return nil
        }

        /// The principal id, for a user requirement.
        public var user: String? {
            if case .user(let id) = approvers { return id }
            return nil
        }
    }

    /// The requirements of one applying `require_approval` rule; meeting all of them approves the request.
    public struct Approval: Sendable, Hashable {
        /// The rule id.
        public var rule: String
        /// Its requirements, in the order written.
        public var requires: [Requirement]

        /// Creates an approval alternative.
        public init(rule: String, requires: [Requirement]) {
            self.rule = rule
            self.requires = requires
        }
    }

    /// A rule whose evaluation failed, with the reason.
    public struct RuleError: Sendable, Hashable {
        /// The rule id.
        public var rule: String
        /// What went wrong, e.g. "attribute `principal.department` is absent".
        public var message: String

        /// Creates a rule error.
        public init(rule: String, message: String) {
            self.rule = rule
            self.message = message
        }
    }

    /// The outcome.
    public var outcome: Outcome
    /// The seconds granted (or, when pending, granted on approval); nil on deny.
    public var ttlSeconds: Int64?
    /// The ids of the applying rules of the deciding kind, sorted; empty on a default deny.
    public var rules: [String]
    /// The approval alternatives, sorted by rule id; empty unless pending.
    public var approvals: [Approval]
    /// The alert channels, sorted and without duplicates.
    public var notify: [String]
    /// The rules whose evaluation failed, sorted by rule id: every failing `forbid`, and every failing
    /// `permit`/`require_approval` unless the outcome is permit.
    public var errors: [RuleError]

    /// Creates a decision.
    public init(
        outcome: Outcome, ttlSeconds: Int64?, rules: [String], approvals: [Approval] = [],
        notify: [String] = [], errors: [RuleError] = []
    ) {
        self.outcome = outcome
        self.ttlSeconds = ttlSeconds
        self.rules = rules
        self.approvals = approvals
        self.notify = notify
        self.errors = errors
    }

    /// The default deny of a request that no rule covers.
    public static let defaultDeny = Decision(outcome: .deny, ttlSeconds: nil, rules: [])
}
