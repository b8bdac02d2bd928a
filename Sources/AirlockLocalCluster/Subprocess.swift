import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with `posix_spawn` and `waitpid`.
///
/// `Foundation.Process` is not used on purpose: it hangs after `pg_ctl start`, because the postmaster inherits and
/// keeps open a descriptor that `Process` waits on. Here the child gets `/dev/null` as stdin, its stdout and stderr
/// are appended to a log file (never a pipe), every other inherited descriptor is closed, its working directory is
/// set, its signal dispositions and mask are reset, and it runs in a process group of its own so that a timeout can
/// kill it together with its children.
enum Subprocess {
    /// How a child process ended.
    struct Termination: Sendable, CustomStringConvertible {
        /// The exit status, if the process exited.
        let exitCode: Int32?
        /// The signal that ended the process, if it was killed by one.
        let signal: Int32?

        /// Whether the process exited with status 0.
        var succeeded: Bool { exitCode == 0 }

        var description: String {
            if let exitCode { return "exit status \(exitCode)" }
            return "signal \(signal ?? 0)"
        }
    }

    /// The variables a PostgreSQL tool, and the server `pg_ctl` starts, may inherit: `PATH`, `HOME`, `TZ`, `LANG`
    /// and `LC_*`, nothing else.
    ///
    /// An allow-list, not a deny-list: the server runs for as long as the cluster does, and a superuser of it reads
    /// its environment (`COPY … FROM PROGRAM 'env'`, `/proc/PID/environ`), so `AIRLOCK_MASTER_KEY`, `AIRLOCK_TOKEN`
    /// or a cloud credential of the caller must never reach it. `PG*` variables are dropped too: they would change
    /// what the tools do (every setting they need is passed as an argument).
    static let inheritedVariables: Set<String> = ["PATH", "HOME", "TZ", "LANG"]

    /// `base` reduced to ``inheritedVariables`` and `LC_*`.
    static func cleanEnvironment(_ base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        base.filter { inheritedVariables.contains($0.key) || $0.key.hasPrefix("LC_") }
    }

    /// Runs `executable` (an absolute path) with `arguments` and waits for it, at most `timeout`.
    ///
    /// On timeout the child's process group is killed with SIGKILL and a `timeout` error naming `name`
    /// (default: `executable`) is thrown.
    static func run(
        _ executable: String,
        _ arguments: [String],
        workingDirectory: String,
        logFile: String,
        environment: [String: String] = cleanEnvironment(),
        timeout: Duration,
        name: String? = nil
    ) throws(LocalClusterError) -> Termination {
        var argv = [executable] + arguments
        var path = executable
        let addChdir = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
        if addChdir == nil {
            // Old glibc: let a shell change directory, then exec the program.
            path = "/bin/sh"
            argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", workingDirectory] + argv
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var failure = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if failure == 0 {
            failure = posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        if failure == 0 { failure = posix_spawn_file_actions_adddup2(&actions, 1, 2) }
        if failure == 0, let addChdir { failure = addChdir(&actions, workingDirectory) }
        if failure == 0 { failure = closeInheritedDescriptors(&actions) }
        if failure != 0 {
            throw LocalClusterError(code: "spawn_failed", message: "could not prepare \(executable): \(describe(failure))")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        var noSignal = sigset_t()
        sigemptyset(&noSignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignal)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let cArguments = argv.map { strdup($0) }
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let argvArray = cArguments + [nil]
        let envpArray = cEnvironment + [nil]
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argvArray, envpArray)
        if spawned != 0 {
            throw LocalClusterError(code: "spawn_failed", message: "could not start \(executable): \(describe(spawned))")
        }
        return try wait(pid: pid, name: name ?? executable, timeout: timeout)
    }

    /// Waits for `pid`, retrying on EINTR, and kills its process group once `timeout` has passed.
    private static func wait(pid: pid_t, name: String, timeout: Duration) throws(LocalClusterError) -> Termination {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause: useconds_t = 1_000
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return decode(status) }
            if result == -1 {
                let error = errno
                if error == EINTR { continue }
                throw LocalClusterError(code: "wait_failed", message: "could not wait for \(name): \(describe(error))")
            }
            if clock.now >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                throw LocalClusterError(
                    code: "timeout", message: "\(name) did not finish within \(timeout) and was killed")
            }
            usleep(pause)
            pause = min(pause * 2, 25_000)
        }
    }

    /// Decodes a `waitpid` status (the `WIFEXITED` family of macros is not imported into Swift).
    private static func decode(_ status: Int32) -> Termination {
        let signal = status & 0x7f
        if signal == 0 { return Termination(exitCode: (status >> 8) & 0xff, signal: nil) }
        return Termination(exitCode: nil, signal: signal)
    }

    private typealias AddChdir = @convention(c) (
        UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?
    ) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// Adds actions that close every descriptor from 3 up: `addclosefrom_np` if glibc has it (2.34+),
    /// else one `addclose` per descriptor listed in /proc/self/fd (glibc ignores EBADF for those).
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) -> Int32 {
        if let closeFrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self) {
            return closeFrom(&actions, 3)
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in entries.compactMap({ Int32($0) }) where descriptor > 2 {
            let result = posix_spawn_file_actions_addclose(&actions, descriptor)
            if result != 0 { return result }
        }
        return 0
    }

    /// Looks up an optional glibc function at run time, so that older C libraries still link.
    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        guard let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    /// `strerror` as a lowercase string.
    static func describe(_ error: Int32) -> String {
        String(cString: strerror(error)).lowercased()
    }
}
