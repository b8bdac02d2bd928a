import Foundation

/// Tells the time of day. Injected wherever expiry, deadlines or timestamps matter, so tests drive time exactly.
public protocol WallClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The system's clock.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}
    public func now() -> Date { Date() }
}
