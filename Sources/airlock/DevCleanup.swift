import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Undoes what `airlock dev` and `airlock bench` set up (the cluster, its directory, the lock, the dev issuer key)
/// exactly once: on the normal way out, or when SIGINT, SIGTERM or SIGHUP ends the process whatever it was doing
/// (starting the cluster, migrating, benchmarking). Without it, a benchmark stopped by SIGTERM left its PostgreSQL
/// running and its directory behind.
///
/// While `airlock dev`'s broker serves, its service group owns these signals (SIGINT and SIGTERM stop it gracefully,
/// SIGHUP reloads the policies) and the normal way out cleans up: see ``deferToServiceGroup(_:)``.
///
/// Each action runs once, by whoever takes it out of the list first. `busy` is held while a cluster starts (so a
/// signal waits for the cluster to exist, then stops it) and while actions run (so the normal path and a signal never
/// run one concurrently, and the process cannot exit while a signal's clean-up is under way).
final class DevCleanup: Sendable {
    static let shared = DevCleanup()

    private struct State {
        var actions: [(id: Int, run: @Sendable () -> Void)] = []
        var nextID = 0
        var deferring = false
        var sources: [any DispatchSourceSignal] = []
    }

    private let state = Mutex(State())
    private let busy = Mutex(())
    private let queue = DispatchQueue(label: "airlock.dev.signals")

    /// Starts handling SIGINT, SIGTERM and SIGHUP (once per process).
    func install() {
        state.withLock { state in
            guard state.sources.isEmpty else { return }
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                #if canImport(Darwin)
                // kqueue delivers a signal to the source only if its default action is not taken first.
                Darwin.signal(signal, SIG_IGN)
                #endif
                let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
                source.setEventHandler { [self] in handle(signal) }
                source.resume()
                state.sources.append(source)
            }
        }
    }

    /// Registers `action` to run once, on the normal way out (``run(_:)``) or at a signal; returns its id.
    @discardableResult
    func add(_ action: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.actions.append((state.nextID, action))
            return state.nextID
        }
    }

    /// Runs the action `id` now, unless a signal already did (then this waits for the process to end).
    func run(_ id: Int) {
        busy.withLock { _ in
            let action = state.withLock { state -> (@Sendable () -> Void)? in
                guard let index = state.actions.firstIndex(where: { $0.id == id }) else { return nil }
                return state.actions.remove(at: index).run
            }
            action?()
        }
    }

    /// Runs `start` (which creates something that a registered action undoes) so that a signal arriving meanwhile
    /// waits for it, then undoes it too. `start` should ``add(_:)`` its action before returning.
    func starting<Result: Sendable>(_ start: () throws -> Result) throws -> Result {
        try busy.withLock { _ in try start() }
    }

    /// While `deferring`, signals are left to the broker's service group (graceful stop, SIGHUP reload).
    func deferToServiceGroup(_ deferring: Bool) {
        state.withLock { $0.deferring = deferring }
    }

    private func handle(_ signal: Int32) {
        guard !state.withLock({ $0.deferring }) else { return }
        busy.withLock { _ in
            let actions = state.withLock { state in
                defer { state.actions.removeAll() }
                return state.actions
            }
            if !actions.isEmpty {
                FileHandle.standardError.write(Data("airlock: signal \(signal): stopping the cluster and removing its files\n".utf8))
            }
            for action in actions.reversed() { action.run() }
            _exit(128 + signal)
        }
    }
}
