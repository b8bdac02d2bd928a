import Foundation

/// What a receiver answered one delivery attempt (or why there was no answer).
public enum WebhookResponse: Sendable, Hashable {
    /// An HTTP status, with its `Retry-After` in seconds when it sent one.
    case status(Int, retryAfterSeconds: Int64? = nil)
    /// No answer: the connection failed or timed out, the address was refused, the answer was too large…
    /// `reason` says which, in one line without any secret.
    case failed(reason: String)
}

/// An endpoint's delivery state, as a value: its events go out one at a time in the chain's order, so when the
/// one at the head fails the endpoint waits — its backoff is the endpoint's, not the event's. ``apply(_:at:jitter:)``
/// reads no clock (the time comes with the answer) and returns what the I/O layer must do, like ``LeaseState``.
///
/// - 2xx: delivered; the endpoint's failures are forgotten.
/// - `410 Gone`: the receiver asks never to be called again: the endpoint is disabled (audited, alerted).
/// - `429`, `502`, `503`, `504`: the receiver is overloaded: wait its `Retry-After` (at most ``maximumRetryAfter``)
///   or the backoff, whichever is longer.
/// - Anything else, or no answer: retried with exponential backoff and jitter (``backoff``) until the event at the
///   head has waited ``deadLetterAfter`` (three days) since it was queued; then every pending event that old is
///   dead-lettered (kept, alerted, replayable) and the endpoint carries on with the rest, each of which also gets
///   its three days.
public struct WebhookDeliveryState: Sendable, Hashable {
    /// Failed attempts in a row.
    public private(set) var failures: Int
    /// When the current run of failures began.
    public private(set) var failingSince: Date?

    /// The first retry waits about 5 s, doubling up to 1 h: 5 s, 10 s, 20 s … then hourly, about 80 attempts in
    /// three days.
    public static let backoff = Backoff(base: .seconds(5), cap: .seconds(3600))
    public static let deadLetterAfter: TimeInterval = 3 * 24 * 3600
    public static let maximumRetryAfter: Int64 = 3600

    /// What the dispatcher must do after an attempt.
    public enum Action: Sendable, Hashable {
        /// The event was delivered; go on with the next.
        case delivered
        /// Disable the endpoint (410), saying why; its pending events stay for a replay.
        case disable(reason: String)
        /// Try the same event again at `at`.
        case retry(at: Date)
        /// Dead-letter every pending event of the endpoint queued at or before `queuedBefore` (they have waited three
        /// days), alert, and try the next one at `retryAt`.
        case deadLetter(queuedBefore: Date, retryAt: Date)
    }

    public init(failures: Int = 0, failingSince: Date? = nil) {
        self.failures = failures
        self.failingSince = failingSince
    }

    /// Whether `status` is an overloaded receiver asking to slow down.
    public static func isThrottling(_ status: Int) -> Bool { [429, 502, 503, 504].contains(status) }

    /// The state after `response` at `now` to the event queued at `queuedAt`, and what to do. `jitter` picks the
    /// backoff's jitter (a `SystemRandomNumberGenerator` in the dispatcher, a fixed one in tests).
    public mutating func apply(
        _ response: WebhookResponse, at now: Date, queuedAt: Date, jitter: inout some RandomNumberGenerator
    ) -> Action {
        var retryAfter: Int64?
        switch response {
        case .status(let status, _) where (200...299).contains(status):
            failures = 0
            failingSince = nil
            return .delivered
        case .status(410, _):
            failures = 0
            failingSince = nil
            return .disable(reason: "the receiver answered 410 Gone")
        case .status(let status, let after) where Self.isThrottling(status):
            retryAfter = after.map { min(max($0, 0), Self.maximumRetryAfter) }
        case .status, .failed:
            break
        }
        if failingSince == nil { failingSince = now }
        let delay = Self.backoff.delay(attempt: failures, using: &jitter)
        failures += 1
        var wait = TimeInterval(delay.components.seconds) + TimeInterval(delay.components.attoseconds) / 1e18
        if let retryAfter { wait = max(wait, TimeInterval(retryAfter)) }
        let retryAt = now.addingTimeInterval(wait)
        if now.timeIntervalSince(queuedAt) >= Self.deadLetterAfter {
            return .deadLetter(queuedBefore: now.addingTimeInterval(-Self.deadLetterAfter), retryAt: retryAt)
        }
        return .retry(at: retryAt)
    }
}
