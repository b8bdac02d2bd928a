import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only, for `airlock dev` and
/// the tests (one cluster per test process).
///
/// Every connection, over TCP and over the Unix socket in ``socketDirectory``, needs a password
/// (SCRAM-SHA-256): the superuser's is ``superuserPassword``. Layout of ``directory``: `data/` (the cluster),
/// `sock/` (the socket), `server.log` (``logFile``), `initdb.log` and `pg_ctl.log`.
///
/// `Sendable`: every stored property is a `let`; the one piece of mutable state (whether the server was
/// stopped and the files removed) lives in a `Mutex`.
public final class LocalPostgresCluster: Sendable {
    /// The temporary directory owned by this cluster; ``stop(keepFiles:)`` removes it.
    public let directory: URL
    /// The address the server listens on: always `127.0.0.1`.
    public let host: String
    /// The TCP port the server listens on.
    public let port: Int
    /// The superuser's name: `postgres`.
    public let superuser: String
    /// The superuser's password: 32 random characters from `[A-Za-z0-9]`.
    public let superuserPassword: String
    /// The programs this cluster was created with.
    public let binaries: PostgresBinaries

    let account: ServerAccount
    /// The environment of every tool this cluster runs, and so of the server: `Subprocess.cleanEnvironment`.
    let childEnvironment: [String: String]
    private let state = Mutex(StopState())

    private struct StopState {
        var serverStopped = false
        var filesRemoved = false
    }

    /// The directory holding the server's Unix socket (`DIRECTORY/sock`).
    public var socketDirectory: URL { directory.appendingPathComponent("sock", isDirectory: true) }
    /// The server's log file (`DIRECTORY/server.log`), for error messages.
    public var logFile: URL { directory.appendingPathComponent("server.log", isDirectory: false) }
    /// The cluster's data directory (`DIRECTORY/data`).
    public var dataDirectory: URL { directory.appendingPathComponent("data", isDirectory: true) }

    init(
        directory: URL, port: Int, password: String, binaries: PostgresBinaries, account: ServerAccount,
        childEnvironment: [String: String] = Subprocess.cleanEnvironment()
    ) {
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = port
        self.superuser = "postgres"
        self.superuserPassword = password
        self.binaries = binaries
        self.account = account
        self.childEnvironment = childEnvironment
    }

    /// Creates a fresh cluster in `directory` (default: a new temporary directory such as /tmp/airlock-pg-XXXXXX)
    /// and starts it on `port` (default: a free port found by binding 127.0.0.1:0).
    ///
    /// A given `directory` must be empty or not exist yet; it belongs to the cluster from then on. When running
    /// as root, the directory is given to the `postgres` user and the tools run through `runuser`. If any step
    /// fails, the server is stopped and the directory removed; the error names the step and quotes the end of its
    /// log. With the default port, a start that fails because the port was taken meanwhile is retried on a new one.
    ///
    /// `environment` is where the binaries are looked for (`PATH`); the tools and the server inherit only its
    /// `PATH`, `HOME`, `TZ`, `LANG` and `LC_*` (never a secret such as `AIRLOCK_MASTER_KEY`, which a superuser of the
    /// cluster could read from the server's environment).
    public static func start(
        directory: URL? = nil, port: Int? = nil, binaries: PostgresBinaries? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LocalClusterError) -> LocalPostgresCluster {
        let childEnvironment = Subprocess.cleanEnvironment(environment)
        let binaries = if let binaries { binaries } else { try PostgresBinaries.locate(environment: environment) }
        let account = try ServerAccount.current(environment: environment)
        var chosenPort = if let port { port } else { try FreePort.find() }
        let root = try ClusterSetup.makeDirectory(directory)
        let password = ClusterSetup.randomPassword()
        var cluster = LocalPostgresCluster(
            directory: root, port: chosenPort, password: password, binaries: binaries, account: account,
            childEnvironment: childEnvironment)
        do throws(LocalClusterError) {
            try ClusterSetup.initialize(cluster)
            var attempt = 1
            while true {
                do throws(LocalClusterError) {
                    try ClusterSetup.startServer(cluster)
                    return cluster
                } catch where port == nil && attempt < 3 && ClusterSetup.addressInUse(cluster) {
                    attempt += 1
                    chosenPort = try FreePort.find()
                    cluster = LocalPostgresCluster(
                        directory: root, port: chosenPort, password: password, binaries: binaries, account: account,
            childEnvironment: childEnvironment)
                }
            }
        } catch {
            // Best effort: the original error is the one worth reporting.
            try? cluster.stop(keepFiles: false)
            throw error
        }
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DATABASE?sslmode=disable`, with user, password and database
    /// percent-encoded. `user` defaults to ``superuser`` and `password` to ``superuserPassword``.
    public func url(database: String, user: String? = nil, password: String? = nil) -> String {
        let user = Self.encode(user ?? superuser)
        let password = Self.encode(password ?? superuserPassword)
        return "postgres://\(user):\(password)@\(host):\(port)/\(Self.encode(database))?sslmode=disable"
    }

    /// Stops the server (`pg_ctl stop -m fast -w`, then `-m immediate`, then SIGKILL as a last resort) and,
    /// unless `keepFiles`, removes ``directory``. Idempotent: later calls only do what is left to do (a call
    /// with `keepFiles: false` after one with `keepFiles: true` removes the files).
    ///
    /// - Throws: `stop_failed` if a server process survives, `remove_failed` if the directory cannot be removed.
    public func stop(keepFiles: Bool = false) throws(LocalClusterError) {
        try state.withLock { (state: inout StopState) throws(LocalClusterError) in
            if !state.serverStopped {
                try ClusterSetup.stopServer(self)
                state.serverStopped = true
            }
            if !keepFiles && !state.filesRemoved {
                try ClusterSetup.removeDirectory(directory)
                state.filesRemoved = true
            }
        }
        ClusterRegistry.forget(self)
    }

    /// Registers `cluster` to be stopped (and its directory removed) by an `atexit` handler, for test processes,
    /// which have no global teardown. A cluster stopped earlier is simply skipped. The handler does not run when
    /// the process is killed by a signal.
    public static func stopAtExit(_ cluster: LocalPostgresCluster) {
        ClusterRegistry.register(cluster)
    }

    /// Percent-encodes everything but the URI "unreserved" characters `[A-Za-z0-9-._~]`.
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
