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
        var failed = fchmod(descriptor, 0o600) != 0
        var offset = 0
        while !failed && offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { failed = true } else { offset += count }
        }
        if !failed && fsync(descriptor) != 0 { failed = true }
        close(descriptor)
        if failed {
            unlink(path)
            throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "cannot write `\(path)`")
        }
    }
}
