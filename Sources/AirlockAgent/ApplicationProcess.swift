import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The application `airlock agent -- COMMAND` runs: started with the credentials in its environment (and nowhere
/// else), signalled or restarted on rotation, stopped with SIGTERM (then SIGKILL after a timeout). Its exit is
/// awaited on a thread of its own, never on the cooperative pool.
public final class ApplicationProcess: Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private struct Running: Sendable {
        var pid: pid_t
        /// Set when the agent itself stops or restarts it (its exit is then not the application's own).
        var stopping: Bool
        var generation: Int
    }

    private let command: [String]
    private let state = Mutex<Running?>(nil)
    private let exits: AsyncStream<(generation: Int, status: Int32)>
    private let exitSink: AsyncStream<(generation: Int, status: Int32)>.Continuation
    private let generations = Atomic<Int>(0)

    public init(command: [String]) {
        self.command = command
        (exits, exitSink) = AsyncStream.makeStream(of: (generation: Int, status: Int32).self)
    }

    /// Starts the command with `environment` (the whole environment it gets).
    public func start(environment: [String: String]) throws(Failure) {
        let pid = try Self.spawn(command, environment: environment)
        let generation = generations.add(1, ordering: .relaxed).newValue
        state.withLock { $0 = Running(pid: pid, stopping: false, generation: generation) }
        let sink = exitSink
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let signalNumber = status & 0x7f
            sink.yield((generation, signalNumber == 0 ? (status >> 8) & 0xff : 128 + signalNumber))
        }
    }

    /// Starts `command` (looked up in `PATH`) with exactly `environment`, every signal at its default disposition
    /// and none blocked, whatever the caller ignores or blocks; its process id.
    public static func spawn(_ command: [String], environment: [String: String]) throws(Failure) -> pid_t {
        guard let program = command.first else { throw Failure(description: "no command given after `--`") }
        let arguments = command.map { strdup($0) }
        let variables = environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, program, nil, &attributes, arguments + [nil], variables + [nil])
        guard spawned == 0 else {
            throw Failure(description: "cannot run `\(program)`: \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// The process id of the running command, if any.
    public var pid: pid_t? { state.withLock { $0?.pid } }

    /// Sends `signal` to the running command.
    public func signal(_ signal: Int32) {
        if let pid { kill(pid, signal) }
    }

    /// Waits for the command to exit by itself (not because the agent stopped or restarted it): its exit status.
    public func exited() async -> Int32 {
        for await exit in exits {
            let ours = state.withLock { running -> Bool in
                guard let current = running, current.generation == exit.generation else { return true }
                running = nil
                return current.stopping
            }
            if !ours { return exit.status }
        }
        return 0
    }

    /// Stops the command: SIGTERM, then SIGKILL after `timeout`. Returns once it is gone.
    public func stop(timeout: TimeInterval) async {
        guard let pid = state.withLock({ running -> pid_t? in
            running?.stopping = true
            return running?.pid
        }) else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while Self.alive(pid) {
            if Date() >= deadline {
                kill(pid, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        while Self.alive(pid) { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Whether `pid` still exists and is not yet reaped (kill 0 succeeds on a zombie: check that it was reaped).
    private static func alive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0
    }
}
