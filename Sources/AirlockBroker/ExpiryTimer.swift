import Foundation

/// When the revocation sweep next looks for due leases, as a value: the sweep arms it with the earliest due moment
/// the database knows of (``arm(due:now:fallback:)``), bounded by a fallback poll, and waits the duration it returns;
/// what it hears meanwhile (``heard(_:)``: a lease another broker, or this one, made active; ``wake()``: room freed
/// in a lane, a failed attempt to reschedule) says whether it must stop waiting and look again.
///
/// What arrives while the sweep is not waiting (it is claiming, or reading the next due moment) is kept for the next
/// ``arm(due:now:fallback:)``, so nothing heard between reading the database and starting to wait is lost.
public struct ExpiryTimer: Sendable, Equatable {
    /// The instant, by the broker's clock, the sweep waits for; nil while it is not waiting.
    public private(set) var armedAt: Date?
    /// The soonest expiry heard while not waiting.
    private var heardSoonest: Date?
    /// Something heard while not waiting that needs a fresh look at once.
    private var lookAgain = false

    public init() {}

    /// Arms the timer for `due` (nil: nothing is known to become due), but at most `fallback` after `now`, and
    /// for anything heard since the last wait; returns how long to wait (zero: look again at once).
    public mutating func arm(due: Date?, now: Date, fallback: Duration) -> Duration {
        let limit = now.addingTimeInterval(Self.seconds(fallback))
        let at = [due, heardSoonest, limit].compactMap { $0 }.min() ?? limit
        heardSoonest = nil
        if lookAgain {
            lookAgain = false
            armedAt = nil
            return .zero
        }
        // Never less than a short pause: leases expiring a millisecond apart are claimed a few at a time rather
        // than one pass each, and something due already that the pass just before did not claim (another broker
        // holds it in its claiming transaction) does not make the sweep spin against the database.
        let wait = max(at.timeIntervalSince(now), Self.seconds(Self.shortestPause))
        armedAt = now.addingTimeInterval(wait)
        return .seconds(wait)
    }

    /// The wait ended (its time came, or it was woken).
    public mutating func disarm() {
        armedAt = nil
    }

    /// A lease will expire at `expiry` (nil: notifications may have been missed, read the database again). True
    /// when the waiting sweep must wake: the expiry comes before the armed instant.
    public mutating func heard(_ expiry: Date?) -> Bool {
        guard let armedAt else {
            if let expiry {
                heardSoonest = min(heardSoonest ?? expiry, expiry)
            } else {
                lookAgain = true
            }
            return false
        }
        guard let expiry else { return true }
        return expiry < armedAt
    }

    /// Something changed that the armed instant does not account for (a lane has room again, an attempt failed and
    /// was rescheduled): true when the sweep is waiting and must wake; otherwise the next arm looks again at once.
    public mutating func wake() -> Bool {
        guard armedAt != nil else {
            lookAgain = true
            return false
        }
        return true
    }

    /// The shortest wait: when the earliest due moment is closer (or has passed already).
    static let shortestPause = Duration.milliseconds(10)

    static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
