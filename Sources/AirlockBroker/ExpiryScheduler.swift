import AirlockCore
import Foundation
import Synchronization

/// The revocation sweep's timer: it sleeps until the earliest due moment (``ExpiryTimer``), bounded by a fallback
/// poll, and is woken early by what it hears: ``heard(_:)`` for an expiry notified by any broker (the
/// `airlock_lease_expiry` channel), ``wake()`` for room freed in a lane or an attempt rescheduled. Nothing is kept
/// here that a restart would need: the database says what is due, the timer only says when to ask.
public final class ExpiryScheduler: Sendable {
    private struct State: Sendable {
        var timer = ExpiryTimer()
        /// Ends the current wait early; a fresh stream for each wait (a stream whose reader was cancelled is
        /// finished for good, so none is reused).
        var wake: AsyncStream<Void>.Continuation?
        var waits = 0
    }

    private let clock: any WallClock
    private let state = Mutex(State())

    public init(clock: any WallClock) {
        self.clock = clock
    }

    /// The instant, by the broker's clock, the sweep waits for; nil while it is not waiting.
    public var armedAt: Date? { state.withLock { $0.timer.armedAt } }

    /// How many times the sweep has started waiting (a sweep that does not spin waits once per wake-up).
    public var waits: Int { state.withLock { $0.waits } }

    /// A lease will expire at `expiry` (nil: notifications may have been missed): wakes the sweep if that is
    /// sooner than it waits for.
    public func heard(_ expiry: Date?) {
        state.withLock { state in
            if state.timer.heard(expiry) { state.wake?.yield() }
        }
    }

    /// Wakes the sweep to look again (at once, or as soon as it next waits).
    public func wake() {
        state.withLock { state in
            if state.timer.wake() { state.wake?.yield() }
        }
    }

    /// Waits until `due` (nil: nothing known), at most `fallback`, or until woken; returns at once when cancelled.
    /// One caller at a time (the sweep's loop).
    func wait(due: Date?, fallback: Duration) async {
        let (woken, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let now = clock.now()
        let delay = state.withLock { state in
            let delay = state.timer.arm(due: due, now: now, fallback: fallback)
            state.waits += 1
            if delay > .zero { state.wake = wake }
            return delay
        }
        defer {
            state.withLock { state in
                state.timer.disarm()
                state.wake = nil
            }
            wake.finish()
        }
        guard delay > .zero, !Task.isCancelled else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask {
                for await _ in woken { return }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
