import AirlockCore
import Foundation
import Synchronization

/// The one clock tests drive: stuck at an instant until the test moves it (``init(_:)``), or the system time
/// plus whatever the test added (``followingSystemTime()``: dev JWTs signed at real time still verify while
/// tokens checked against this clock can be made to expire without waiting).
public final class TestClock: WallClock {
    private enum Reading {
        case fixed(Date)
        case system(offset: TimeInterval)
    }

    private let reading: Mutex<Reading>

    /// A clock stuck at `start` (by default 2027-01-15T08:00:00Z) until ``advance(_:)``.
    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        reading = Mutex(.fixed(start))
    }

    private init(offset: TimeInterval) {
        reading = Mutex(.system(offset: offset))
    }

    /// A clock reading the system time, moved ahead by every ``advance(_:)``.
    public static func followingSystemTime() -> TestClock {
        TestClock(offset: 0)
    }

    public func now() -> Date {
        switch reading.withLock({ $0 }) {
        case .fixed(let date): date
        case .system(let offset): Date().addingTimeInterval(offset)
        }
    }

    /// Moves the clock `seconds` ahead.
    public func advance(_ seconds: TimeInterval) {
        reading.withLock { reading in
            switch reading {
            case .fixed(let date): reading = .fixed(date.addingTimeInterval(seconds))
            case .system(let offset): reading = .system(offset: offset + seconds)
            }
        }
    }

    /// ``now()`` in seconds since 1970.
    public var unix: Double { now().timeIntervalSince1970 }
}
