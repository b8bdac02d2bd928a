import NIOCore
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
///
/// With `onEventLoop`, that task prefers the connection's event loop (``EventLoopExecutor``): for bodies that only run
/// statements on `connection` and never block.
///
/// Cost: `body` runs in one task of its own (the caller must be able to return while it hangs). The close is
/// watched by ``ConnectionWatch``, one `closeFuture` callback per connection for its whole life, shared by every
/// call on it; a call only adds itself to, and removes itself from, its connection's set of calls in flight. (Issue
/// 11's first version started a second task per call that polled `isClosed` every 200 ms; that timer and task cost
/// more than the lookups most calls make.)
@discardableResult
func whileOpen<T: Sendable>(
    _ connection: PostgresConnection, grace: Duration = .seconds(2), onEventLoop: Bool = false,
    _ body: @escaping @Sendable (PostgresConnection) async throws -> T
) async throws -> T {
    let race = ConnectionRace<T>()
    // Added inside the continuation's closure, which runs to its end before this call can return: removed after.
    defer { ConnectionWatch.shared.remove(race, from: connection) }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.begin(continuation)
            let work = Task(executorPreference: onEventLoop ? EventLoopExecutor(connection.eventLoop) : nil) {
                do {
                    race.finish(.success(try await body(connection)))
                } catch {
                    race.finish(.failure(error))
                }
            }
            race.track(work: work)
            ConnectionWatch.shared.add(race, on: connection, grace: grace)
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

/// A call in flight on a connection, as ``ConnectionWatch`` sees it: something to fail when the connection has been
/// closed for its grace.
protocol WatchedCall: AnyObject, Sendable {
    /// Fails the call with ``StoreError/connectionLost`` unless it has finished.
    func connectionLost()
}

/// The calls in flight on every connection used through ``whileOpen(_:grace:_:)``, and one `closeFuture` callback
/// per connection: when a connection closes, the calls still in flight on it are failed `grace` later unless they
/// finish first.
///
/// A connection's entry (which holds the connection, so its identity cannot be reused while the entry exists) lives
/// from its first call until its close: a pooled connection that serves thousands of calls keeps one callback, not
/// one per call. Every connection closes in the end (the pool closes idle ones and all of them at shutdown; the
/// one-off connections are closed by their users), and its entry goes with it.
final class ConnectionWatch: Sendable {
    /// The watch every ``whileOpen(_:grace:_:)`` uses.
    static let shared = ConnectionWatch()

    private struct Entry {
        let connection: PostgresConnection
        var calls: [ObjectIdentifier: (call: any WatchedCall, grace: Duration)] = [:]
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    /// Watches `call` on `connection` until ``remove(_:from:)``.
    func add(_ call: any WatchedCall, on connection: PostgresConnection, grace: Duration) {
        let key = ObjectIdentifier(connection)
        let isNew = entries.withLock { entries -> Bool in
            var isNew = false
            if entries[key] == nil {
                entries[key] = Entry(connection: connection)
                isNew = true
            }
            entries[key]?.calls[ObjectIdentifier(call)] = (call, grace)
            return isNew
        }
        // Outside the lock: on a connection already closed the callback runs at once, here or on its event loop.
        if isNew {
            connection.closeFuture.whenComplete { _ in self.closed(key) }
        }
    }

    /// Stops watching `call` (it finished).
    func remove(_ call: any WatchedCall, from connection: PostgresConnection) {
        let key = ObjectIdentifier(connection)
        entries.withLock { entries in
            _ = entries[key]?.calls.removeValue(forKey: ObjectIdentifier(call))
        }
    }

    /// `key`'s connection closed: its entry goes, and each call still in flight on it fails after its grace.
    private func closed(_ key: ObjectIdentifier) {
        guard let entry = entries.withLock({ $0.removeValue(forKey: key) }) else { return }
        for (call, grace) in entry.calls.values {
            entry.connection.eventLoop.scheduleTask(in: TimeAmount(grace)) { call.connectionLost() }
        }
    }

    /// How many connections are watched (for tests: entries must not outlive their connections).
    var watchedConnections: Int { entries.withLock { $0.count } }
}

/// The shared state of one ``whileOpen(_:grace:_:)``: the caller's continuation, resumed once by the work or by the
/// watch, whichever comes first, and the work's task, cancelled when the caller is.
private final class ConnectionRace<T: Sendable>: WatchedCall, Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var decided = false
        var cancelled = false
        var work: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the task so the caller's cancellation (or the watch's decision) can reach it.
    func track(work: Task<Void, Never>) {
        let (decided, cancelled) = state.withLock { state -> (Bool, Bool) in
            if !state.decided { state.work = work }
            return (state.decided, state.cancelled)
        }
        if !decided, cancelled { work.cancel() }
    }

    /// The caller was cancelled: pass it on to the work, and keep waiting.
    func cancelWork() {
        let work = state.withLock { state -> Task<Void, Never>? in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }

    /// The connection has been closed for the grace: the work is abandoned (cancelled, its result dropped).
    func connectionLost() {
        finish(.failure(StoreError.connectionLost))?.cancel()
    }

    /// Decides with `outcome` unless already decided: resumes the caller, and returns the work's task.
    @discardableResult
    func finish(_ outcome: Result<T, any Error>) -> Task<Void, Never>? {
        let decision = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?)? in
            guard !state.decided else { return nil }
            state.decided = true
            defer {
                state.continuation = nil
                state.work = nil
            }
            return (state.continuation, state.work)
        }
        guard let (continuation, work) = decision else { return nil }
        continuation?.resume(with: outcome)
        return work
    }
}
