import PostgresNIO
import Synchronization

/// Runs `body` against `connection` and returns its result, or throws ``StoreError/connectionLost`` once the
/// connection has been closed for `grace` while `body` still waits on it.
///
/// Why: postgres-nio (1.33) sends each statement to its channel with `channel.write(task, promise: nil)`. When the
/// channel has closed and SwiftNIO has torn its pipeline down (one event-loop tick after `channelInactive`), the
/// write reaches no handler, is dropped silently, and the statement's promise is never completed: the `await`
/// waits forever and ignores cancellation. A database restart makes this likely, twice over: the pool leases a
/// connection in the moment between its channel closing and the pool hearing of it (`closeFuture`, fired after the
/// teardown), and `withTransaction` sends `ROLLBACK` on the connection whose statement has just failed because the
/// server ended it. Either way the caller hung for good (a listener that never listened again, a chainer that never
/// chained again, a shutdown that never finished).
///
/// Every statement written before the teardown is failed or answered by the connection's own clean-up before
/// `closeFuture` completes, so only a statement lost this way can still be waiting `grace` after the close:
/// `body` is then abandoned (its task cancelled and its result, which never comes, dropped). While the connection is
/// open nothing is cut short: a long statement on a live connection runs to its end. Cancelling the caller cancels
/// `body` and still waits for it (or for the close), so the caller never returns while its statement may still
/// commit.
@discardableResult
func whileOpen<T: Sendable>(
    _ connection: PostgresConnection, grace: Duration = .seconds(2), poll: Duration = .milliseconds(200),
    _ body: @escaping @Sendable (PostgresConnection) async throws -> T
) async throws -> T {
    let race = ConnectionRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.begin(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await body(connection)))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let watchdog = Task {
                // `isClosed` reads the channel's atomic `isActive`; polling keeps no callback on a pooled
                // connection's `closeFuture`, which would pile up over the connection's life.
                do {
                    while !connection.isClosed { try await Task.sleep(for: poll) }
                    try await Task.sleep(for: grace)
                } catch {
                    return  // cancelled: the work finished first
                }
                race.finish(.failure(StoreError.connectionLost))
            }
            race.track(work: work, watchdog: watchdog)
        }
    } onCancel: {
        race.cancelWork()
    }
}

extension StoreError {
    /// A database call whose connection closed under it before it could finish (a statement lost with the
    /// connection; whether it took effect is unknown only if it was a `COMMIT`, as with any connection lost then).
    public static let connectionLost = StoreError(
        code: "database_connection_lost", message: "the database connection closed while a call was waiting on it")
}

/// The shared state of one ``whileOpen(_:grace:poll:_:)``: the caller's continuation, resumed once by the work or
/// by the watchdog, whichever finishes first, and the two tasks, cancelled when it is decided.
private final class ConnectionRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var decided = false
        var cancelled = false
        var work: Task<Void, Never>?
        var watchdog: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the tasks so the decision (or the caller's cancellation) can reach them.
    func track(work: Task<Void, Never>, watchdog: Task<Void, Never>) {
        let (decided, cancelled) = state.withLock { state -> (Bool, Bool) in
            if !state.decided {
                state.work = work
                state.watchdog = watchdog
            }
            return (state.decided, state.cancelled)
        }
        if decided {
            work.cancel()
            watchdog.cancel()
        } else if cancelled {
            work.cancel()
        }
    }

    /// The caller was cancelled: pass it on to the work, and keep waiting.
    func cancelWork() {
        let work = state.withLock { state -> Task<Void, Never>? in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }

    /// Decides with `outcome` unless already decided: resumes the caller, cancels both tasks.
    func finish(_ outcome: Result<T, any Error>) {
        let decision = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>])? in
            guard !state.decided else { return nil }
            state.decided = true
            defer {
                state.continuation = nil
                state.work = nil
                state.watchdog = nil
            }
            return (state.continuation, [state.work, state.watchdog].compactMap { $0 })
        }
        guard let (continuation, tasks) = decision else { return }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: outcome)
    }
}
