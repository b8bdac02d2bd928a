/// The attribute values one decision is made from: `principal`, `resource`, `request` and `risk`.
///
/// An attribute that is not in ``attributes`` is absent: `has` is false for it and reading it is a
/// runtime error (which makes a `forbid` apply and a `permit` or `require_approval` not apply).
public struct EvaluationInput: Sendable, Hashable {
    /// The present attributes and their values.
    public var attributes: [AttributePath: Value]

    /// Creates an input from attribute values.
    public init(attributes: [AttributePath: Value] = [:]) {
        self.attributes = attributes
    }

    /// Creates an input from the four entities' attribute values, keyed by attribute name.
    public init(
        principal: [String: Value] = [:], resource: [String: Value] = [:],
        request: [String: Value] = [:], risk: [String: Value] = [:]
    ) {
        var attributes: [AttributePath: Value] = [:]
        for (root, values) in [(EntityRoot.principal, principal), (.resource, resource), (.request, request), (.risk, risk)] {
            for (name, value) in values { attributes[AttributePath(root, name)] = value }
        }
        self.attributes = attributes
    }

    /// The value of `path`, or nil when absent. Setting nil removes the attribute.
    public subscript(path: AttributePath) -> Value? {
        get { attributes[path] }
        set { attributes[path] = newValue }
    }

    /// The value of `root.name`, or nil when absent.
    public subscript(root: EntityRoot, name: String) -> Value? {
        get { attributes[AttributePath(root, name)] }
        set { attributes[AttributePath(root, name)] = newValue }
    }
}

/// Why an evaluation input line was rejected. ``json`` is the `{"error": "..."}` line `airlock policy eval` prints.
public struct InputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, one lowercase line, e.g. "`risk.score` must be an integer, got a string".
    public let message: String

    /// Creates an input error.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// `{"error": "message"}` as one line of JSON.
    public var json: String {
        JSONWriter.object([("error", JSONWriter.string(message))])
    }
}
