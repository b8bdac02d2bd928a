import AirlockCore
import Foundation
import Synchronization

/// The revocation sweep's timer: it sleeps until the earliest due moment (``ExpiryTimer``), bounded by a fallback
/// poll, and is woken early by what it hears: ``heard(_:)`` for an expiry notified by any broker (the
/// `airlock_lease_expiry` channel), ``wake()`` for room freed in a lane or an attempt rescheduled. Nothing is kept
/// here that a restart would need: the database says what is due, the timer only says when to ask.
public final class ExpiryScheduler: Sendable {
    private let clock: any WallClock
    private let timer = Mutex(ExpiryTimer())
    private let signal: AsyncStream<Void>
    private let signalContinuation: AsyncStream<Void>.Continuation

    public init(clock: any WallClock) {
        self.clock = clock
        let (signal, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.signal = signal
        self.signalContinuation = continuation
    }

    /// The instant, by the broker's clock, the sweep waits for; nil while it is not waiting.
    public var armedAt: Date? { timer.withLock { $0.armedAt } }

    /// A lease will expire at `expiry` (nil: notifications may have been missed): wakes the sweep if that is
    /// sooner than it waits for.
    public func heard(_ expiry: Date?) {
        if timer.withLock({ $0.heard(expiry) }) { signalContinuation.yield() }
    }

    /// Wakes the sweep to look again (at once, or as soon as it next waits).
    public func wake() {
        if timer.withLock({ $0.wake() }) { signalContinuation.yield() }
    }

    /// Waits until `due` (nil: nothing known), at most `fallback`, or until woken; returns at once when cancelled.
    /// One caller at a time (the sweep's loop).
    func wait(due: Date?, fallback: Duration) async {
        let delay = timer.withLock { $0.arm(due: due, now: clock.now(), fallback: fallback) }
        defer { timer.withLock { $0.disarm() } }
        guard delay > .zero, !Task.isCancelled else { return }
        let signal = self.signal
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask {
                for await _ in signal { return }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
