import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The steps behind `LocalPostgresCluster.start` and `stop`: make the directory, run `initdb`, start and stop the
/// server with `pg_ctl`.
enum ClusterSetup {
    /// How long `initdb` may take.
    static let initdbTimeout: Duration = .seconds(60)
    /// The `-t` given to `pg_ctl -w`; the process itself gets 30 s more before it is killed.
    static let pgCtlWaitSeconds = 60

    /// Creates the cluster directory: a fresh `/tmp/airlock-pg-XXXXXX`, or `requested` if it is empty or missing.
    static func makeDirectory(_ requested: URL?) throws(LocalClusterError) -> URL {
        let files = FileManager.default
        guard let requested else {
            var template = Array("/tmp/airlock-pg-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                throw LocalClusterError(
                    code: "directory_failed", message: "could not create a directory in /tmp: \(Subprocess.describe(errno))")
            }
            return URL(fileURLWithPath: String(cString: made), isDirectory: true)
        }
        let path = requested.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: path, isDirectory: &isDirectory) {
            let entries = (try? files.contentsOfDirectory(atPath: path)) ?? ["?"]
            guard isDirectory.boolValue, entries.isEmpty else {
                throw LocalClusterError(
                    code: "directory_not_empty", message: "\(path) must be an empty directory or not exist yet")
            }
        } else {
            do {
                try files.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw LocalClusterError(code: "directory_failed", message: "could not create \(path)")
            }
        }
        chmod(path, 0o700)
        return URL(fileURLWithPath: path, isDirectory: true)
    }

    /// 32 characters from `[A-Za-z0-9]`, drawn with `SystemRandomNumberGenerator`.
    static func randomPassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Makes `sock/`, hands the directory to the server account and runs `initdb` with password authentication
    /// (trying `--locale=C.UTF-8`, then `--locale=C`). The password file exists only while `initdb` runs.
    static func initialize(_ cluster: LocalPostgresCluster) throws(LocalClusterError) {
        let root = cluster.directory.path
        do {
            try FileManager.default.createDirectory(
                atPath: cluster.socketDirectory.path, withIntermediateDirectories: false,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw LocalClusterError(code: "directory_failed", message: "could not create \(cluster.socketDirectory.path)")
        }
        let passwordFile = (root as NSString).appendingPathComponent("pwfile")
        defer { unlink(passwordFile) }
        try writeSecret(cluster.superuserPassword, to: passwordFile)
        try cluster.account.takeOwnership(of: root)

        let log = (root as NSString).appendingPathComponent("initdb.log")
        var failure = ""
        for locale in ["C.UTF-8", "C"] {
            try? FileManager.default.removeItem(at: cluster.dataDirectory)
            let arguments = [
                "-D", cluster.dataDirectory.path, "-U", cluster.superuser, "--pwfile=\(passwordFile)",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=\(locale)", "--no-sync",
            ]
            do throws(LocalClusterError) {
                let result = try run(cluster, cluster.binaries.initdb, arguments, log: log, timeout: initdbTimeout)
                if result.succeeded { return }
                failure = "initdb --locale=\(locale) failed with \(result)"
            } catch {
                failure = "initdb --locale=\(locale) failed: \(error.message)"
            }
        }
        throw LocalClusterError.step("initdb_failed", failure, log: log, secret: cluster.superuserPassword)
    }

    /// Starts the server with `pg_ctl start -w`, listening on 127.0.0.1:PORT and in `sock/` only.
    static func startServer(_ cluster: LocalPostgresCluster) throws(LocalClusterError) {
        try? FileManager.default.removeItem(at: cluster.logFile)
        // 1,500 connections: the test suite runs hundreds of brokers at once, each with a pool and three LISTEN
        // connections; at 600 a loaded run hit "remaining connection slots are reserved" (53300). Idle backends
        // cost a few MB each on a throwaway cluster.
        let options = [
            "-c listen_addresses=127.0.0.1", "-p \(cluster.port)", "-k \(shellQuote(cluster.socketDirectory.path))",
            "-c fsync=off", "-c max_connections=1500",
        ].joined(separator: " ")
        let arguments = [
            "-D", cluster.dataDirectory.path, "-l", cluster.logFile.path, "-w", "-t", "\(pgCtlWaitSeconds)", "-s",
            "-o", options, "start",
        ]
        let pgCtlLog = cluster.directory.appendingPathComponent("pg_ctl.log").path
        var failure: String
        do throws(LocalClusterError) {
            let result = try run(cluster, cluster.binaries.pgCtl, arguments, log: pgCtlLog, timeout: pgCtlTimeout)
            if result.succeeded { return }
            failure = "pg_ctl start on port \(cluster.port) failed with \(result)"
        } catch {
            failure = "pg_ctl start on port \(cluster.port) failed: \(error.message)"
        }
        let serverLog = LogTail.read(path: cluster.logFile.path, lines: 1)?.isEmpty == false
        let log = serverLog ? cluster.logFile.path : pgCtlLog
        throw LocalClusterError.step("start_failed", failure, log: log, secret: cluster.superuserPassword)
    }

    /// Whether the last start failed because another process holds the port.
    static func addressInUse(_ cluster: LocalPostgresCluster) -> Bool {
        guard let tail = LogTail.read(path: cluster.logFile.path, lines: 40) else { return false }
        return tail.contains("Address already in use") || tail.contains("could not create any TCP/IP sockets")
    }

    /// Stops the server if one is running: `pg_ctl stop -m fast`, then `-m immediate`, then SIGKILL.
    static func stopServer(_ cluster: LocalPostgresCluster) throws(LocalClusterError) {
        let data = cluster.dataDirectory.path
        guard let pid = PostmasterProcess.pid(dataDirectory: data) else { return }
        let log = cluster.directory.appendingPathComponent("pg_ctl.log").path
        for mode in ["fast", "immediate"] {
            let arguments = ["-D", data, "-m", mode, "-w", "-t", "\(pgCtlWaitSeconds)", "-s", "stop"]
            let result = try? run(cluster, cluster.binaries.pgCtl, arguments, log: log, timeout: pgCtlTimeout)
            if result?.succeeded == true || !PostmasterProcess.isAlivePostgres(pid) { break }
        }
        // pg_ctl -w returns once postmaster.pid is gone, which the postmaster removes just before it exits.
        guard PostmasterProcess.kill(pid) else {
            throw LocalClusterError.step(
                "stop_failed", "the server (pid \(pid)) is still running after pg_ctl stop and sigkill",
                log: cluster.logFile.path, secret: cluster.superuserPassword)
        }
    }

    /// Removes `directory` and everything in it, if it exists.
    static func removeDirectory(_ directory: URL) throws(LocalClusterError) {
        guard FileManager.default.fileExists(atPath: directory.path) else { return }
        do {
            try FileManager.default.removeItem(at: directory)
        } catch {
            throw LocalClusterError(code: "remove_failed", message: "could not remove \(directory.path)")
        }
    }

    private static var pgCtlTimeout: Duration { .seconds(pgCtlWaitSeconds + 30) }

    /// Runs a PostgreSQL tool as the cluster's account, in the cluster directory, appending its output to `log`.
    private static func run(
        _ cluster: LocalPostgresCluster, _ executable: String, _ arguments: [String], log: String, timeout: Duration
    ) throws(LocalClusterError) -> Subprocess.Termination {
        let (program, programArguments) = cluster.account.command(executable, arguments)
        return try Subprocess.run(
            program, programArguments, workingDirectory: cluster.directory.path, logFile: log,
            environment: cluster.childEnvironment, timeout: timeout, name: (executable as NSString).lastPathComponent)
    }

    /// Writes `secret` to a new file readable only by its owner.
    private static func writeSecret(_ secret: String, to path: String) throws(LocalClusterError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LocalClusterError(
                code: "password_file_failed", message: "could not create \(path): \(Subprocess.describe(errno))")
        }
        defer { close(descriptor) }
        let bytes = Array((secret + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw LocalClusterError(code: "password_file_failed", message: "could not write \(path)")
        }
    }

    /// Quotes `text` for the shell that `pg_ctl` runs the postmaster through.
    private static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
