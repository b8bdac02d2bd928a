import AirlockCore
import Synchronization
import Testing

@Suite("Timeouts", .timeLimit(.minutes(1)))
struct TimeoutTests {
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
        #expect(ContinuousClock.now - started < .seconds(50))  // loose: the work alone sleeps 60 s
    }

    struct Boom: Error, Equatable {}

    @Test("withTimeout rethrows the work's own error")
    func timeoutRethrows() async throws {
        await #expect(throws: Boom.self) {
            try await withTimeout(.seconds(5)) { () async throws -> Int in throw Boom() }
        }
    }

    @Test("withTimeout throws at the deadline even when the work ignores cancellation")
    func timeoutBoundsWorkThatIgnoresCancellation() async throws {
        let parked = Parked()
        let started = ContinuousClock.now
        let error = await #expect(throws: TimeoutError.self) {
            try await withTimeout(.milliseconds(50)) { await parked.wait() }
        }
        #expect(error?.limit == .milliseconds(50))
        #expect(ContinuousClock.now - started < .seconds(50))  // loose: a wait for the work would never end
        parked.release()  // lets the abandoned work finish, so the test leaves nothing suspended
    }

    @Test("cancelling the caller throws at once even when the work ignores cancellation")
    func cancellationBoundsWorkThatIgnoresIt() async throws {
        let parked = Parked()
        let caller = Task { try await withTimeout(.seconds(600)) { await parked.wait() } }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        parked.release()
    }
}

/// Work that ignores cancellation: it waits on a continuation that only ``release()`` resumes.
final class Parked: Sendable {
    private let waiter = Mutex<(continuation: CheckedContinuation<Void, Never>?, released: Bool)>((nil, false))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = waiter.withLock { state -> Bool in
                if state.released { return true }
                state.continuation = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func release() {
        let continuation = waiter.withLock { state -> CheckedContinuation<Void, Never>? in
            state.released = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }
}
