@testable import AirlockServer
import AirlockTestRandom
import Foundation
import Testing

@Suite("Backoff, timeouts, readiness and request ids", .timeLimit(.minutes(2)))
struct BackoffTests {
    static let schedules: [(base: Duration, cap: Duration)] = [
        (.milliseconds(250), .seconds(30)), (.milliseconds(1), .milliseconds(50)), (.seconds(2), .seconds(5)),
    ]

    @Test("attempt n waits within [ceiling/2, ceiling], ceiling = min(base·2ⁿ, cap)", arguments: schedules)
    func delaysStayWithinTheirWindow(base: Duration, cap: Duration) {
        let backoff = Backoff(base: base, cap: cap)
        var generator = SplitMix64(seed: 0xA1B2_C3D4)
        for attempt in 0..<40 {
            let ceiling = min(base * (1 << min(attempt, 30)), cap).nanoseconds
            for _ in 0..<50 {
                let delay = backoff.delay(attempt: attempt, using: &generator).nanoseconds
                #expect(delay >= ceiling / 2, "attempt \(attempt): \(delay)ns below \(ceiling / 2)ns")
                #expect(delay <= ceiling, "attempt \(attempt): \(delay)ns above \(ceiling)ns")
                #expect(delay <= cap.nanoseconds)
            }
        }
    }

    @Test("the default schedule starts near 250 ms, grows, and settles under the 30 s cap")
    func defaultScheduleGrows() {
        let backoff = Backoff()
        var generator = SplitMix64(seed: 7)
        // The lower bound of each window doubles, so delays averaged per attempt must rise until the cap.
        let means: [Double] = (0..<10).map { attempt in
            let total = (0..<200).reduce(Int64(0)) { sum, _ in sum + backoff.delay(attempt: attempt, using: &generator).nanoseconds }
            return Double(total) / 200 / 1e9
        }
        #expect(means[0] > 0.125 && means[0] < 0.25)
        for attempt in 1..<7 { #expect(means[attempt] > means[attempt - 1], "\(means)") }
        #expect(means[9] >= 15 && means[9] <= 30)
        let huge = backoff.delay(attempt: 1_000_000, using: &generator)
        #expect(huge >= .seconds(15) && huge <= .seconds(30))
    }

    @Test("the same seed gives the same delays; another seed does not")
    func deterministicWithSeed() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(60))
        func schedule(seed: UInt64) -> [Duration] {
            var generator = SplitMix64(seed: seed)
            return (0..<12).map { backoff.delay(attempt: $0, using: &generator) }
        }
        #expect(schedule(seed: 42) == schedule(seed: 42))
        #expect(schedule(seed: 42) != schedule(seed: 43))
    }

    @Test("the jitter uses the whole window, not one point of it")
    func jitterSpreads() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(1))
        var generator = SplitMix64(seed: 99)
        let delays = (0..<500).map { _ in backoff.delay(attempt: 0, using: &generator).nanoseconds }
        #expect(Set(delays).count > 400)
        #expect(delays.min()! < 600_000_000)
        #expect(delays.max()! > 900_000_000)
    }

    @Test("withTimeout returns the work's value when it finishes in time")
    func timeoutPassesValueThrough() async throws {
        let value = try await withTimeout(.seconds(5)) { 41 + 1 }
        #expect(value == 42)
    }

    @Test("withTimeout throws TimeoutError and cancels slow work")
    func timeoutFires() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: TimeoutError.self) {
            try await withTimeout(.milliseconds(100)) {
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        #expect(error?.limit == .milliseconds(100))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    struct Boom: Error, Equatable {}

    @Test("withTimeout rethrows the work's own error")
    func timeoutRethrows() async throws {
        await #expect(throws: Boom.self) {
            try await withTimeout(.seconds(5)) { () async throws -> Int in throw Boom() }
        }
    }

    @Test("readiness starts blocked on the database and reports conditions sorted")
    func readiness() {
        let readiness = Readiness()
        #expect(!readiness.isReady)
        #expect(readiness.unmet.map(\.condition) == ["database"])
        readiness.block("policies", reason: "not loaded")
        readiness.clear("database")
        #expect(readiness.unmet.map(\.condition) == ["policies"])
        #expect(readiness.unmet.first?.reason == "not loaded")
        readiness.block("audit", reason: "behind")
        #expect(readiness.unmet.map(\.condition) == ["audit", "policies"])
        readiness.clear("audit")
        readiness.clear("policies")
        #expect(readiness.isReady)
        #expect(readiness.unmet.isEmpty)
    }

    @Test("a caller's request id is kept only when short and plain", arguments: [
        ("abc-123", true), ("A.b_C-9", true), (String(repeating: "a", count: 128), true),
        (String(repeating: "a", count: 129), false), ("", false), ("has space", false), ("semi;colon", false),
        ("new\nline", false), ("ünïcode", false),
    ])
    func requestIDAcceptable(value: String, accepted: Bool) {
        #expect(RequestIDMiddleware<AirlockRequestContext>.acceptable(value) == (accepted ? value : nil))
    }
}
