import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The account the PostgreSQL tools run as.
///
/// PostgreSQL refuses to run as root, so when this process is root the cluster's files are handed to the `postgres`
/// user and every tool is started through `runuser -u postgres --`. Otherwise the tools run directly as the
/// current user.
struct ServerAccount: Sendable {
    /// The `postgres` user's uid and gid and the `runuser` path, when running as root; `nil` otherwise.
    let switchTo: (uid: uid_t, gid: gid_t, runuser: String)?

    /// The account for the current process.
    static func current(environment: [String: String]) throws(LocalClusterError) -> ServerAccount {
        guard geteuid() == 0 else { return ServerAccount(switchTo: nil) }
        guard let entry = getpwnam("postgres") else {
            throw LocalClusterError(
                code: "postgres_user_not_found",
                message: "running as root needs a 'postgres' user to own the cluster, and there is none")
        }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        let candidates = ["/usr/sbin/runuser", "/sbin/runuser"]
            + (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/runuser" }
        guard let runuser = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw LocalClusterError(
                code: "runuser_not_found",
                message: "running as root needs runuser (util-linux) to start postgres as the postgres user")
        }
        return ServerAccount(switchTo: (uid, gid, runuser))
    }

    /// The program and arguments that run `executable` with `arguments` as this account.
    func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard let switchTo else { return (executable, arguments) }
        return (switchTo.runuser, ["-u", "postgres", "--", executable] + arguments)
    }

    /// Gives `path` and everything under it to this account (a no-op unless running as root).
    func takeOwnership(of path: String) throws(LocalClusterError) {
        guard let switchTo else { return }
        var failed: String?
        func change(_ item: String) {
            if lchown(item, switchTo.uid, switchTo.gid) != 0, failed == nil {
                failed = "\(item): \(Subprocess.describe(errno))"
            }
        }
        change(path)
        if let enumerator = FileManager.default.enumerator(atPath: path) {
            while let relative = enumerator.nextObject() as? String {
                change((path as NSString).appendingPathComponent(relative))
            }
        }
        if let failed {
            throw LocalClusterError(code: "chown_failed", message: "could not give the cluster files to postgres: \(failed)")
        }
    }
}
