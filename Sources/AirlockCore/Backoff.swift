/// Exponential backoff with full jitter: attempt `n` waits a random time in `[base·2ⁿ/2, base·2ⁿ]`, capped.
public struct Backoff: Sendable {
    public let base: Duration
    public let cap: Duration

    /// Creates a schedule starting at `base` and never above `cap`.
    public init(base: Duration = .milliseconds(250), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = cap
    }

    /// The delay before retry number `attempt` (0-based), using `generator` for the jitter.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let exponent = min(attempt, 30)
        let ceiling = min(base * (1 << exponent), cap)
        let ceilingNanos = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        let low = ceilingNanos / 2
        return .nanoseconds(Int64.random(in: low...max(low, ceilingNanos), using: &generator))
    }
}
