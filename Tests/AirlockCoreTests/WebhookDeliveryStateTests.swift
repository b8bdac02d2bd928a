import AirlockCore
import Foundation
import Testing

/// An endpoint's delivery state (issue 14): delivered, disabled by 410, slowed by overload, backed off, and
/// dead-lettered after three days, on an injected time and jitter.
@Suite struct WebhookDeliveryStateTests {
    /// Always the top of the jitter range: delays are exact.
    struct HighestJitter: RandomNumberGenerator {
        mutating func next() -> UInt64 { .max }
    }

    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("failures back off exponentially from 5 s to an hour; a 2xx forgets them")
    func backoff() {
        var state = WebhookDeliveryState()
        var jitter = HighestJitter()
        var now = start
        var waits: [TimeInterval] = []
        for _ in 0..<12 {
            guard case .retry(let at) = state.apply(.status(500), at: now, queuedAt: start, jitter: &jitter) else {
                Issue.record("not a retry")
                return
            }
            waits.append(at.timeIntervalSince(now))
            now = at
        }
        #expect(waits.prefix(6).map { Int($0.rounded()) } == [5, 10, 20, 40, 80, 160])
        #expect(waits.suffix(2).allSatisfy { Int($0.rounded()) == 3600 })
        #expect(state.failures == 12 && state.failingSince == start)
        #expect(state.apply(.status(204), at: now, queuedAt: start, jitter: &jitter) == .delivered)
        #expect(state.failures == 0 && state.failingSince == nil)
    }

    @Test("a connection failure is a failure like a 500; 410 disables the endpoint")
    func failuresAndGone() {
        var state = WebhookDeliveryState()
        var jitter = HighestJitter()
        #expect(state.apply(.failed(reason: "connection refused"), at: start, queuedAt: start, jitter: &jitter)
            == .retry(at: start.addingTimeInterval(5)))
        #expect(state.apply(.status(410), at: start, queuedAt: start, jitter: &jitter)
            == .disable(reason: "the receiver answered 410 Gone"))
        #expect(state.failures == 0)
    }

    @Test("429, 502, 503 and 504 wait their Retry-After when it is longer than the backoff, at most an hour")
    func throttling() {
        var jitter = HighestJitter()
        for status in [429, 502, 503, 504] {
            var state = WebhookDeliveryState()
            #expect(state.apply(.status(status, retryAfterSeconds: 120), at: start, queuedAt: start, jitter: &jitter)
                == .retry(at: start.addingTimeInterval(120)))
        }
        var state = WebhookDeliveryState()
        #expect(state.apply(.status(429, retryAfterSeconds: 1), at: start, queuedAt: start, jitter: &jitter)
            == .retry(at: start.addingTimeInterval(5)))  // the backoff is longer
        #expect(state.apply(.status(503, retryAfterSeconds: 86_400 * 30), at: start, queuedAt: start, jitter: &jitter)
            == .retry(at: start.addingTimeInterval(3600)))
        var ignored = WebhookDeliveryState()
        #expect(ignored.apply(.status(500, retryAfterSeconds: 600), at: start, queuedAt: start, jitter: &jitter)
            == .retry(at: start.addingTimeInterval(5)))  // Retry-After counts only on an overload status
    }

    @Test("an event that has waited three days is dead-lettered with every event as old; the endpoint goes on")
    func deadLetter() {
        var state = WebhookDeliveryState(failures: 80, failingSince: start)
        var jitter = HighestJitter()
        let justUnder = start.addingTimeInterval(WebhookDeliveryState.deadLetterAfter - 1)
        #expect(state.apply(.status(500), at: justUnder, queuedAt: start, jitter: &jitter)
            == .retry(at: justUnder.addingTimeInterval(3600)))
        let due = start.addingTimeInterval(WebhookDeliveryState.deadLetterAfter)
        #expect(state.apply(.status(500), at: due, queuedAt: start, jitter: &jitter)
            == .deadLetter(queuedBefore: start, retryAt: due.addingTimeInterval(3600)))
        #expect(state.failingSince == start, "the endpoint still fails")
    }
}
