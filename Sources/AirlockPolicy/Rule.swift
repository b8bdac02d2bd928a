/// What a rule does when it applies.
public enum Effect: String, Sendable, Hashable, CaseIterable {
    /// `permit`: grant access.
    case permit
    /// `require_approval`: grant access once approvers agree.
    case requireApproval = "require_approval"
    /// `forbid`: deny access; wins over everything else.
    case forbid
}

/// A rule: `EFFECT "id" CLAUSE* ;`.
public struct Rule: Sendable, Hashable {
    /// The rule's effect.
    public var effect: Effect
    /// The id, unique in the policy set.
    public var id: String
    /// Where the effect keyword is.
    public var location: SourceLocation
    /// Where the id string is.
    public var idLocation: SourceLocation
    /// The clauses in the order written.
    public var clauses: [Clause]

    /// Creates a rule.
    public init(effect: Effect, id: String, location: SourceLocation, idLocation: SourceLocation, clauses: [Clause]) {
        self.effect = effect
        self.id = id
        self.location = location
        self.idLocation = idLocation
        self.clauses = clauses
    }

    /// The default TTL cap of `permit` and `require_approval` rules without a `ttl` clause: one hour.
    public static let defaultTTLSeconds: Int64 = 3_600

    /// The `when`/`unless` clauses in the order written; together they form one `and` chain.
    public var conditions: [Condition] {
        clauses.compactMap { clause in
            switch clause.kind {
            case .when(let expression): Condition(polarity: .when, expression: expression, location: clause.location)
            case .unless(let expression): Condition(polarity: .unless, expression: expression, location: clause.location)
            default: nil
            }
        }
    }

    /// The `ttl` cap in seconds, or ``defaultTTLSeconds`` when there is no `ttl` clause.
    public var ttlSeconds: Int64 {
        for clause in clauses {
            if case .ttl(let seconds) = clause.kind { return seconds }
        }
        return Self.defaultTTLSeconds
    }

    /// The approval requirements in the order written (empty when there is no `approvers` clause).
    public var approvers: [ApprovalRequirement] {
        for clause in clauses {
            if case .approvers(let requirements) = clause.kind { return requirements }
        }
        return []
    }

    /// The `notify` channels in the order written (empty when there is no `notify` clause).
    public var notify: [String] {
        for clause in clauses {
            if case .notify(let channels) = clause.kind { return channels }
        }
        return []
    }
}

/// One clause of a rule, with the location of its keyword.
public struct Clause: Sendable, Hashable {
    /// The clause and its contents.
    public enum Kind: Sendable, Hashable {
        /// `when EXPR`
        case when(Expression)
        /// `unless EXPR`
        case unless(Expression)
        /// `ttl <= DURATION`, in seconds
        case ttl(seconds: Int64)
        /// `approvers group("A") count N, group(ATTR) count N, user(ATTR)`, each `[including services]`
        case approvers([ApprovalRequirement])
        /// `notify "CH", ...`
        case notify([String])
    }

    /// The clause.
    public var kind: Kind
    /// Where the clause keyword is.
    public var location: SourceLocation

    /// Creates a clause.
    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// The keyword: `when`, `unless`, `ttl`, `approvers` or `notify`.
    public var keyword: String {
        switch kind {
        case .when: "when"
        case .unless: "unless"
        case .ttl: "ttl"
        case .approvers: "approvers"
        case .notify: "notify"
        }
    }
}

/// A `when` or `unless` clause seen as a link of the rule's condition chain.
public struct Condition: Sendable, Hashable {
    /// Whether the expression must be true (`when`) or false (`unless`) for the rule to apply.
    public enum Polarity: String, Sendable, Hashable {
        /// `when`: the expression must be true.
        case when
        /// `unless`: the expression must be false.
        case unless
    }

    /// `when` or `unless`.
    public var polarity: Polarity
    /// The condition expression.
    public var expression: Expression
    /// Where the clause keyword is.
    public var location: SourceLocation

    /// Creates a condition.
    public init(polarity: Polarity, expression: Expression, location: SourceLocation) {
        self.polarity = polarity
        self.expression = expression
        self.location = location
    }
}

/// One requirement of an `approvers` clause: `group("db-owners") count 2`, `group(resource.owner) count 1`,
/// `user(principal.manager)`, or any group requirement followed by `including services` when service principals
/// may count toward it.
public struct ApprovalRequirement: Sendable, Hashable {
    /// Who may meet the requirement, as written.
    public enum Approvers: Sendable, Hashable {
        /// `group("A")`: members of a fixed group.
        case group(String)
        /// `group(ATTR)`: members of the group that a String attribute names when the rule is decided.
        case groupNamedBy(AttributePath, location: SourceLocation)
        /// `user(ATTR)`: the one principal whose id a String attribute holds when the rule is decided.
        case userNamedBy(AttributePath, location: SourceLocation)

        /// As written in a policy: `group("db-owners")`, `group(resource.owner)`, `user(principal.manager)`.
        public var written: String {
            switch self {
            case .group(let name): "group(\(Value.string(name)))"
            case .groupNamedBy(let path, _): "group(\(path))"
            case .userNamedBy(let path, _): "user(\(path))"
            }
        }

        /// The attribute read when the rule is decided, and where it is written; nil for a fixed group.
        public var attribute: (path: AttributePath, location: SourceLocation)? {
            switch self {
            case .group: nil
            case .groupNamedBy(let path, let location), .userNamedBy(let path, let location): (path, location)
            }
        }
    }

    /// Who may meet the requirement.
    public var approvers: Approvers
    /// How many distinct approvers must approve (default 1, always at least 1 in a loaded set; 1 for `user`).
    public var count: Int
    /// Whether service principals (workload tokens, `alk_` service tokens) may approve toward this requirement
    /// (`including services`); without it only people (principal kind `user`) do.
    public var includesServices: Bool
    /// Where `group` or `user` is.
    public var location: SourceLocation

    /// Creates a requirement.
    public init(_ approvers: Approvers, count: Int, includesServices: Bool = false, location: SourceLocation) {
        self.approvers = approvers
        self.count = count
        self.includesServices = includesServices
        self.location = location
    }

    /// A fixed-group requirement, `group("A") count N`.
    public init(group: String, count: Int, includesServices: Bool = false, location: SourceLocation) {
        self.init(.group(group), count: count, includesServices: includesServices, location: location)
    }

    /// The fixed group, for `group("A")`; nil when an attribute names the approvers.
    public var fixedGroup: String? {
        if case .group(let name) = approvers { return name }
        return nil
    }
}
