import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Makes sure only one `airlock dev` runs per port: an exclusive `flock` on `dev-PORT.lock` in the private
/// ``DevRuntimeDirectory``, held for the life of the process (the kernel releases it when the process ends, however
/// it ends).
///
/// The file is opened with `O_NOFOLLOW`: a symbolic link planted at its path is refused, never written through.
struct DevLock: Sendable {
    let path: String
    private let descriptor: Int32

    /// Takes the lock, or explains who holds it.
    static func acquire(port: Int) throws -> DevLock {
        let directory = try DevRuntimeDirectory.prepare()
        let path = (directory as NSString).appendingPathComponent("dev-\(port).lock")
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw DevError("the lock file \(path) is a symbolic link: refusing to follow it (remove it)")
            }
            throw DevError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid() else {
            close(fd)
            throw DevError("the lock file \(path) is not a regular file of this user: remove it")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var bytes = [UInt8](repeating: 0, count: 200)
            let count = pread(fd, &bytes, bytes.count, 0)
            let holder = String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            let who = holder.isEmpty ? "" : " (\(holder))"
            throw DevError(
                "airlock dev is already running on port \(port)\(who): use that one, stop it with Ctrl-C, or start another with --port")
        }
        ftruncate(fd, 0)
        let note = "pid \(getpid()), http://127.0.0.1:\(port)\n"
        _ = note.withCString { write(fd, $0, strlen($0)) }
        return DevLock(path: path, descriptor: fd)
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Releases the lock and removes the file.
    func release() {
        unlink(path)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Whether something already listens on 127.0.0.1:`port`.
    static func portInUse(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}

/// A one-line error of `airlock dev`.
struct DevError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
