import AirlockCore
import AirlockLocalCluster
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The state directory of one `airlock dev` run: the cluster, the dev master key and the dev checkpoint keys.
struct DevState {
    let directory: URL
    /// Whether this run created the directory (and so may remove it).
    let created: Bool

    static func make(_ path: String?) throws -> DevState {
        let fm = FileManager.default
        if let path {
            let url = URL(fileURLWithPath: path)
            if fm.fileExists(atPath: url.appendingPathComponent("postgres").path) {
                throw DevError("\(path) already holds a cluster from an earlier run: remove it or choose another --state-dir")
            }
            let existed = fm.fileExists(atPath: url.path)
            do {
                try fm.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw DevError("cannot create the state directory \(path)")
            }
            // The postgres user must be able to reach the cluster directory inside.
            chmod(url.path, 0o711)
            return DevState(directory: url, created: !existed)
        }
        var template = Array("/tmp/airlock-dev-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DevError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let url = URL(fileURLWithPath: String(cString: made))
        chmod(url.path, 0o711)
        return DevState(directory: url, created: true)
    }

    /// Writes the dev master key (readable by this user only), so a kept cluster's secrets stay readable.
    func writeMasterKey(_ key: KeyEncryptionKey) throws {
        try writePrivate("master.key", text: key.text + "\n")
    }

    /// Writes the dev audit checkpoint keys (readable by this user only) as `checkpoint.key`, the key file
    /// `audit.checkpoint_key_file` names, so `airlock audit verify --checkpoint` can use it against a kept cluster.
    func writeCheckpointKeys(_ keys: AuditCheckpointKeys) throws {
        try writePrivate("checkpoint.key", text: keys.fileContents)
    }

    private func writePrivate(_ name: String, text: String) throws {
        let path = directory.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw DevError("cannot write \(path)") }
        defer { close(fd) }
        // A file left by an earlier run keeps its mode through O_CREAT: make it private (a key file must be, to
        // be read back as keys.master_key_file).
        guard fchmod(fd, 0o600) == 0 else { throw DevError("cannot make \(path) private") }
        let written = text.withCString { write(fd, $0, strlen($0)) }
        guard written == text.utf8.count else { throw DevError("cannot write \(path)") }
    }

    /// Where `airlock dev` on `port` keeps its dev issuer's signing key while it runs (mode 0600, in the private
    /// ``DevRuntimeDirectory``), for `airlock login --dev`. Removed on exit.
    static func issuerFile(port: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        (DevRuntimeDirectory.path(environment: environment) as NSString).appendingPathComponent("dev-\(port)-issuer.json")
    }

    /// Removes what this run made, unless `keep`.
    func remove(keep: Bool) {
        guard !keep else { return }
        let fm = FileManager.default
        try? fm.removeItem(at: directory.appendingPathComponent("master.key"))
        try? fm.removeItem(at: directory.appendingPathComponent("checkpoint.key"))
        if created {
            try? fm.removeItem(at: directory)
        }
    }

    /// Starts a throwaway PostgreSQL cluster in this folder, runs `body` with it, then stops it and removes what
    /// this run made (unless `keep`), also when `body` throws and when SIGINT, SIGTERM or SIGHUP ends the process
    /// (see ``DevCleanup``). Status lines go to `note`.
    func withCluster<Result>(
        keep: Bool, note: @escaping @Sendable (String) -> Void, _ body: (LocalPostgresCluster) async throws -> Result
    ) async throws -> Result {
        let cleanup = DevCleanup.shared
        cleanup.install()
        let state = self
        let removeFiles = cleanup.add { state.remove(keep: keep) }
        note("starting PostgreSQL in \(directory.path) ...")
        let cluster: LocalPostgresCluster
        let stopCluster: Int
        do {
            (cluster, stopCluster) = try cleanup.starting {
                let cluster = try LocalPostgresCluster.start(directory: directory.appendingPathComponent("postgres"))
                return (cluster, cleanup.add { Self.stop(cluster, keep: keep, note: note) })
            }
        } catch {
            cleanup.run(removeFiles)
            throw DevError("cannot start PostgreSQL: \((error as? LocalClusterError)?.message ?? "\(error)")")
        }
        let result: Result
        do {
            result = try await body(cluster)
        } catch {
            cleanup.run(stopCluster)
            cleanup.run(removeFiles)
            note(keep ? "stopped; files kept in \(directory.path)" : "stopped; cluster and files removed")
            throw error
        }
        cleanup.run(stopCluster)
        cleanup.run(removeFiles)
        note(keep ? "stopped; files kept in \(directory.path)" : "stopped; cluster and files removed")
        return result
    }

    private static func stop(_ cluster: LocalPostgresCluster, keep: Bool, note: (String) -> Void) {
        do {
            try cluster.stop(keepFiles: keep)
        } catch {
            note("could not stop PostgreSQL cleanly: \(error.message)")
        }
    }
}
