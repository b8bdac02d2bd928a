/// The read of one attribute-named requirement, `group(ATTR)` or `user(ATTR)`, when its rule is decided: the one
/// place that turns the attribute's value into a ``Decision/Requirement`` or a runtime error, so that the reference
/// and the compiled evaluators agree by construction.
///
/// An absent attribute fails as any other read of an absent attribute does; an empty string names nobody and fails
/// too; a value of another type (only possible in a hand-built ``EvaluationInput``) fails like a mistyped read.
struct ApproverRead: Sendable {
    /// The attribute read.
    let path: AttributePath
    /// Whether the value is a principal id (`user(ATTR)`) rather than a group (`group(ATTR)`).
    let namesUser: Bool
    /// How many distinct approvers the requirement needs (1 for `user`).
    let count: Int
    /// Whether service principals count (`including services`).
    let includesServices: Bool
    /// The error when the attribute is absent.
    let absent: EvaluationError
    /// The error when the attribute is the empty string.
    let empty: EvaluationError
    /// Where the attribute is written, for the errors.
    let location: SourceLocation

    /// The read of `path` for `requirement` (`user(path)` when `namesUser`, else `group(path)`), written at `location`.
    init(_ path: AttributePath, at location: SourceLocation, namesUser: Bool, of requirement: ApprovalRequirement) {
        self.path = path
        self.namesUser = namesUser
        self.location = location
        count = requirement.count
        includesServices = requirement.includesServices
        absent = EvaluationError(message: "attribute `\(path)` is absent", location: location)
        empty = EvaluationError(
            message: "`\(path)` is empty: " + (namesUser ? "no approver to name" : "no group to name"), location: location)
    }

    /// The requirement, from the attribute's value (nil when absent).
    func requirement(_ value: Value?) throws(EvaluationError) -> Decision.Requirement {
        guard let value else { throw absent }
        guard case .string(let name) = value else {
            throw EvaluationError(message: "`\(path)` is \(value.typeName), not String", location: location)
        }
        guard !name.isEmpty else { throw empty }
        return Decision.Requirement(namesUser ? .user(name) : .group(name), count: count, includesServices: includesServices)
    }
}

extension ApprovalRequirement {
    /// The requirement of a decision: a fixed group as written, or the attribute read from `input`.
    func resolved(in input: EvaluationInput) throws(EvaluationError) -> Decision.Requirement {
        switch approvers {
        case .group(let name):
            return Decision.Requirement(.group(name), count: count, includesServices: includesServices)
        case .groupNamedBy(let path, let location):
            return try ApproverRead(path, at: location, namesUser: false, of: self).requirement(input[path])
        case .userNamedBy(let path, let location):
            return try ApproverRead(path, at: location, namesUser: true, of: self).requirement(input[path])
        }
    }
}
