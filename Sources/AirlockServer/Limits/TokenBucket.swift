import Foundation

/// One token bucket: holds at most `burst` tokens, refills at `rate` tokens a second, and each request takes one.
/// A pure value: the caller passes the time, so tests drive it exactly.
struct TokenBucket: Sendable, Equatable {
    /// Tokens left (fractional while refilling).
    private(set) var tokens: Double
    /// When `tokens` was last brought up to date.
    private(set) var updated: Date

    /// A full bucket at `now`.
    init(burst: Int, now: Date) {
        self.tokens = Double(burst)
        self.updated = now
    }

    /// Takes one token at `now` if there is one; otherwise leaves the bucket as it was and returns how long until
    /// one is there. A clock that goes back refills nothing.
    mutating func take(rate: Double, burst: Int, now: Date) -> TimeInterval? {
        refill(rate: rate, burst: burst, now: now)
        guard tokens >= 1 else { return (1 - tokens) / rate }
        tokens -= 1
        return nil
    }

    /// Whether the bucket would be full at `now` (then it is the same as no bucket and can be forgotten).
    func isFull(rate: Double, burst: Int, now: Date) -> Bool {
        var copy = self
        copy.refill(rate: rate, burst: burst, now: now)
        return copy.tokens >= Double(burst)
    }

    private mutating func refill(rate: Double, burst: Int, now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updated))
        tokens = min(Double(burst), tokens + elapsed * rate)
        if now > updated { updated = now }
    }
}
