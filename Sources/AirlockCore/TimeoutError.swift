/// Thrown by ``withTimeout(_:_:)`` when the work did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible, Sendable {
    /// The limit the work exceeded.
    public let limit: Duration

    /// Creates the error for work that exceeded `limit`.
    public init(limit: Duration) {
        self.limit = limit
    }

    public var description: String { "timed out after \(limit)" }
}
