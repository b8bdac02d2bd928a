import AirlockCore
import Foundation
import Synchronization

/// How fast one key (a source address, a principal) may call: `rate` requests a second on average, `burst` at
/// once. A rate of 0 switches the limit off.
public struct RateLimit: Sendable, Equatable {
    /// Requests a second, on average (0: no limit).
    public var rate: Int
    /// Requests at once, after a pause.
    public var burst: Int

    /// `rate` requests a second on average, `burst` at once.
    public init(rate: Int, burst: Int) {
        self.rate = rate
        self.burst = burst
    }

    /// No limit.
    public static let off = RateLimit(rate: 0, burst: 0)

    /// Whether this limits anything.
    public var isOn: Bool { rate > 0 && burst > 0 }
}

/// Token buckets by key, with an injected clock. Memory is bounded: at `capacity` keys, buckets that have filled
/// up again are forgotten (a full bucket is the same as none); if every bucket is still in use, all are forgotten,
/// which only an attacker holding `capacity` addresses or principals at once can cause.
final class RateLimiter: Sendable {
    let limit: RateLimit
    let capacity: Int
    private let clock: any WallClock
    private let buckets = Mutex<[String: TokenBucket]>([:])

    init(limit: RateLimit, clock: any WallClock, capacity: Int = 100_000) {
        self.limit = limit
        self.clock = clock
        self.capacity = capacity
    }

    /// Takes one request for `key`: nil when it may go ahead, else the whole seconds (at least 1) after which
    /// it may (`Retry-After`).
    func admit(_ key: String) -> Int? {
        guard limit.isOn else { return nil }
        let now = clock.now()
        let rate = Double(limit.rate), burst = limit.burst
        return buckets.withLock { buckets in
            if buckets[key] == nil {
                if buckets.count >= capacity {
                    buckets = buckets.filter { !$0.value.isFull(rate: rate, burst: burst, now: now) }
                    if buckets.count >= capacity { buckets.removeAll(keepingCapacity: true) }
                }
                buckets[key] = TokenBucket(burst: burst, now: now)
            }
            guard let wait = buckets[key]?.take(rate: rate, burst: burst, now: now) else { return nil }
            return max(1, Int(wait.rounded(.up)))
        }
    }

    /// How many keys have a bucket (for tests of the bound).
    var count: Int { buckets.withLock { $0.count } }
}
