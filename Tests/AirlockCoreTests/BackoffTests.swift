import AirlockCore
import AirlockTestRandom
import Testing

@Suite("Backoff")
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
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
