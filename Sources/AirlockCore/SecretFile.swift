import Foundation

/// Reads a file that holds a secret (a master key, the database password, a target's admin password, the dev
/// issuer's signing key), and refuses one that anybody but its owner may read or write, or that another user owns:
/// a key that others could have read is a key that may have leaked.
///
/// The checks are made on the opened file (`fstat` of the descriptor that is then read), so the file cannot be
/// swapped between check and read. Symbolic links are followed (secret managers mount files through them); what
/// is checked is the file they lead to.
public enum SecretFile {
    /// The largest secret file read (64 KiB); anything bigger is not one of Airlock's secrets.
    public static let maximumSize = 64 * 1024

    /// The bytes of the file at `path`, after checking that it is a regular file owned by this process's user and
    /// that neither its group nor others have any permission on it (mode 0600 or 0400).
    ///
    /// - Throws: ``SecretFileError`` naming `path` and the fix, never the content.
    public static func read(_ path: String) throws(SecretFileError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            throw SecretFileError(
                code: SecretFileError.unreadableCode, path: path,
                message: "cannot read `\(path)`: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "cannot inspect `\(path)`")
        }
        guard status.st_mode & 0o170000 == 0o100000 else {
            throw SecretFileError(code: SecretFileError.notRegularCode, path: path, message: "`\(path)` is not a regular file")
        }
        let user = geteuid()
        guard status.st_uid == user else {
            throw SecretFileError(
                code: SecretFileError.foreignOwnerCode, path: path,
                message: "`\(path)` holds a secret but is owned by uid \(status.st_uid), not by this user (uid \(user)): "
                    + "run `chown \(user) \(path)` and `chmod 600 \(path)`")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw SecretFileError(
                code: SecretFileError.exposedCode, path: path,
                message: "`\(path)` holds a secret but its group or others have access (mode \(String(permissions, radix: 8))): "
                    + "run `chmod 600 \(path)`")
        }
        guard status.st_size <= maximumSize else {
            throw SecretFileError(
                code: SecretFileError.tooLargeCode, path: path,
                message: "`\(path)` is larger than \(maximumSize) bytes: not a key or password file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "cannot read `\(path)`")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count <= maximumSize else {
                throw SecretFileError(
                    code: SecretFileError.tooLargeCode, path: path,
                    message: "`\(path)` is larger than \(maximumSize) bytes: not a key or password file")
            }
        }
        buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        return bytes
    }

    /// The file's content as UTF-8 text, checked as ``read(_:)`` does.
    ///
    /// - Throws: ``SecretFileError``; `secret_file_unreadable` also when the content is not UTF-8.
    public static func readText(_ path: String) throws(SecretFileError) -> String {
        let bytes = try read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SecretFileError(code: SecretFileError.unreadableCode, path: path, message: "`\(path)` is not UTF-8 text")
        }
        return text
    }
}

/// Why a secret file was not read. The message names the file and the fix, never the content.
public struct SecretFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `secret_file_unreadable`: missing, not readable, or not UTF-8 where text is expected.
    public static let unreadableCode = "secret_file_unreadable"
    /// `secret_file_exposed`: its group or others have some permission on it.
    public static let exposedCode = "secret_file_exposed"
    /// `secret_file_foreign_owner`: another user owns it.
    public static let foreignOwnerCode = "secret_file_foreign_owner"
    /// `secret_file_not_regular`: a directory, device, FIFO or socket.
    public static let notRegularCode = "secret_file_not_regular"
    /// `secret_file_too_large`: larger than ``SecretFile/maximumSize``.
    public static let tooLargeCode = "secret_file_too_large"

    /// The stable code, one of the constants above.
    public let code: String
    /// The file.
    public let path: String
    /// One line for the operator: what is wrong with the file and how to fix it.
    public let message: String

    /// Creates an error.
    public init(code: String, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
