import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The private directory of `airlock dev`'s per-user runtime files: the lock of each port and the dev issuer's
/// signing key. `$XDG_RUNTIME_DIR/airlock` when `XDG_RUNTIME_DIR` is an absolute path, else `/tmp/airlock-UID`.
///
/// A fixed name in `/tmp` is a path anyone can prepare in advance (a symbolic link to a file of ours, a file they can
/// read): the directory is created mode 0700 and then checked with `lstat`: a real directory, owned by this user,
/// with no access for group or others. Anything else is refused, never repaired or followed.
enum DevRuntimeDirectory {
    /// The directory's path for `environment` (not created).
    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return (runtime as NSString).appendingPathComponent("airlock")
        }
        return "/tmp/airlock-\(geteuid())"
    }

    /// Creates the directory if missing and checks it; returns its path.
    static func prepare(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let path = path(environment: environment)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw DevError("cannot create the runtime directory \(path): \(String(cString: strerror(errno)))")
        }
        try check(path)
        return path
    }

    /// Checks an existing directory (for `airlock login --dev`, which only reads from it).
    static func existing(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let path = path(environment: environment)
        try check(path)
        return path
    }

    private static func check(_ path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw DevError("cannot read the runtime directory \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw DevError("the runtime directory \(path) is not a directory (a symbolic link?): remove it")
        }
        guard status.st_uid == geteuid() else {
            throw DevError("the runtime directory \(path) belongs to another user (uid \(status.st_uid)): remove it or set XDG_RUNTIME_DIR")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw DevError("the runtime directory \(path) is open to other users (mode \(String(status.st_mode & 0o777, radix: 8))): expected 0700")
        }
    }
}
