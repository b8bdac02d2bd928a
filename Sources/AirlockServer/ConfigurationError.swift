/// A configuration problem: names the setting, what was expected, and where the value came from.
///
/// The offending value is never echoed when the setting holds a secret.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The setting's key, e.g. `database.max_connections`.
    public let key: String
    /// One line: what is wrong and what is expected.
    public let message: String

    /// Creates an error about `key`.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "configuration: `\(key)`: \(message)" }
}
