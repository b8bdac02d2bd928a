/// An error from the PostgreSQL store, with a stable `code` that callers may branch on.
///
/// The message is one line, lowercase, and never contains a password or other secret.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, snake_case identifier of what went wrong (e.g. `migration_checksum_mismatch`).
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

extension StoreError {
    static func invalidDatabaseURL(_ reason: String) -> StoreError {
        StoreError(code: "invalid_database_url", message: "invalid database url: \(reason)")
    }
}
