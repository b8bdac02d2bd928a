import Synchronization

/// Wakes one waiting loop early: ``wait(upTo:)`` returns after the given time, or as soon as ``wake()`` is called —
/// also when the call came while the loop was busy (a wake-up is kept until the next wait), so nothing the loop was
/// woken for waits a whole interval. Several wake-ups before a wait count as one.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        /// Ends the current wait; a fresh stream for each wait (a finished stream cannot be reused).
        var waiter: AsyncStream<Void>.Continuation?
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the loop now, or at its next wait.
    public func wake() {
        state.withLock { state in
            if let waiter = state.waiter {
                waiter.yield()
            } else {
                state.pending = true
            }
        }
    }

    /// Waits `limit` at most, less when woken (at once when a wake-up came since the last wait) or cancelled. One
    /// caller at a time.
    public func wait(upTo limit: Duration) async {
        let (woken, waiter) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let alreadyWoken = state.withLock { state in
            if state.pending {
                state.pending = false
                return true
            }
            state.waiter = waiter
            return false
        }
        defer {
            state.withLock { $0.waiter = nil }
            waiter.finish()
        }
        guard !alreadyWoken, !Task.isCancelled else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: limit) }
            group.addTask {
                for await _ in woken { return }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
