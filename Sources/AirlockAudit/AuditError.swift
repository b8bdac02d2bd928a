/// An error of audit delivery: an event that cannot be turned into what a sink expects.
///
/// `code` is stable (callers branch on it); `message` is one line for the operator and never holds a secret
/// (audit events carry none, and the message quotes only the attribute at fault).
public struct AuditError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, snake_case identifier of what went wrong (e.g. `invalid_event`).
    public let code: String
    /// A one-line explanation for the operator.
    public let message: String

    /// Creates an error with a stable code and a one-line message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension AuditError {
    /// The event is not a CloudEvents object as Airlock stores it: `reason` says which attribute is at fault.
    static func invalidEvent(_ reason: String) -> AuditError {
        AuditError(code: "invalid_event", message: "invalid audit event: \(reason)")
    }
}
