import Synchronization

/// Runs `work` and returns its result, or throws ``TimeoutError`` once `limit` has passed, whichever comes first.
///
/// The limit holds even when `work` ignores cancellation (a query on a connection pool that retries forever
/// against a server that is gone): `work` runs in a task of its own, raced against a sleep, and the caller resumes
/// with the first to finish while the other is cancelled. Work that ignores cancellation may go on running after
/// the throw; its result is dropped. Cancelling the caller cancels `work` and throws `CancellationError` at once.
///
/// Every database check that must answer (readiness, start-up, a provider's step) is bounded with this.
public func withTimeout<T: Sendable>(
    _ limit: Duration, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            guard race.begin(continuation) else { return }
            let worker = Task {
                do {
                    race.finish(.success(try await work()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                // Cancelled only when the work finished first (or the caller was cancelled): nothing to report.
                do { try await Task.sleep(for: limit) } catch { return }
                race.finish(.failure(TimeoutError(limit: limit)))
            }
            race.track([worker, timer])
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The shared state of one ``withTimeout(_:_:)``: the caller's continuation, resumed exactly once by whichever of
/// work, timer and cancellation finishes first, and the two tasks, cancelled when the race is decided.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Installs the caller's continuation; false (and the continuation resumed) when the race is already decided,
    /// i.e. the caller was cancelled before it began.
    func begin(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let decided = state.withLock { state -> Result<T, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        guard let decided else { return true }
        continuation.resume(with: decided)
        return false
    }

    /// Keeps the racing tasks so the decision can cancel them; cancels them now if it was already made.
    func track(_ tasks: [Task<Void, Never>]) {
        let decided = state.withLock { state -> Bool in
            if state.outcome != nil { return true }
            state.tasks = tasks
            return false
        }
        if decided { tasks.forEach { $0.cancel() } }
    }

    /// Decides the race with `outcome` unless it is decided already: resumes the caller, cancels both tasks.
    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer {
                state.continuation = nil
                state.tasks = []
            }
            return (state.continuation, state.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: outcome)
    }
}
