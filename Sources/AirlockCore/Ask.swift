import Foundation

/// What a caller asks for: the body of `POST /v1/access-requests` (and of one-call credentials and what-ifs),
/// with the address it came from.
public struct Ask: Sendable, Hashable {
    public var resource: String
    public var role: String
    public var ttlSeconds: Int64
    public var reason: String
    public var ticket: String?
    public var breakGlass: Bool
    /// The caller's address, as the server resolved it (trusted proxies considered).
    public var sourceIP: String?

    public init(
        resource: String, role: String, ttlSeconds: Int64, reason: String = "", ticket: String? = nil,
        breakGlass: Bool = false, sourceIP: String? = nil
    ) {
        self.resource = resource
        self.role = role
        self.ttlSeconds = ttlSeconds
        self.reason = reason
        self.ticket = ticket
        self.breakGlass = breakGlass
        self.sourceIP = sourceIP
    }
}
