import Foundation

extension SecretFile {
    /// Writes `bytes` to a new file at `path` that only this user may read and write (mode 0600), refusing to
    /// replace anything already there (or to follow a symbolic link there), so a key is never written over another
    /// key or into a file others could already read.
    ///
    /// - Throws: ``SecretFileError`` naming `path`, never the content: `secret_file_unreadable` when the file exists
    ///   or cannot be created or written (a partly written file is removed).
    public static func createNew(_ path: String, bytes: [UInt8]) throws(SecretFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "it already exists (remove it first)" : String(cString: strerror(errno))
            throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "cannot create `\(path)`: \(reason)")
        }
        let failed = !writePrivately(descriptor, bytes)
        close(descriptor)
        if failed {
            unlink(path)
            throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "cannot write `\(path)`")
        }
    }

    /// Makes the open file `descriptor` mode 0600 (whatever the umask made it), writes all of `bytes` and syncs it;
    /// false when any step fails. The descriptor stays open.
    public static func writePrivately(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        guard fchmod(descriptor, 0o600) == 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return fsync(descriptor) == 0
    }
}
