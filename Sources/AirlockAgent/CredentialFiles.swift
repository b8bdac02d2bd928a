import AirlockCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files a credential is handed over in. Each is replaced atomically (a new file of mode 0600 in the same
/// directory, written, synced, renamed over the old one, the directory synced), so a reader sees the old credential
/// or the new one, never half of one, and never a file others could read.
public enum CredentialFiles {
    /// Why a file could not be written (the path and the system's reason, never the content).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// What the application is told in a `status` file.
    public enum State: String, Sendable {
        /// A credential is handed over and valid.
        case active
        /// The broker refused to renew or replace it: it ends at `expires_at`.
        case refused
        /// It has ended and there is no successor.
        case ended
        /// The agent stopped and revoked it.
        case stopped
    }

    /// The text of `format` for `credential` (nil for a `status` file, which ``status(name:state:credential:message:at:)`` writes).
    public static func text(_ format: AgentConfiguration.Output.Format, _ credential: DeliveredCredential) throws(Failure) -> String? {
        switch format {
        case .env:
            return credential.environment.map { "\($0.key)=\(quoted($0.value))\n" }.joined()
        case .json:
            return credential.json.description + "\n"
        case .dsn:
            return credential.connectionString + "\n"
        case .pgpass:
            guard let line = credential.pgpassLine else {
                throw Failure(description: "a .pgpass file holds a PostgreSQL login, and this credential is a token")
            }
            return line + "\n"
        case .status:
            return nil
        }
    }

    /// A `status` file's text: no secret, only the state, the lease, the login's name and when it ends.
    /// `expiresAt` is when the credential ends now (after renewals), by default its expiry at issue.
    public static func status(
        name: String, state: State, credential: DeliveredCredential?, expiresAt: Date? = nil, message: String?, at: Date
    ) -> String {
        var object: [String: JSONValue] = [
            "name": .string(name), "state": .string(state.rawValue), "updated_at": .string(AuditTime.format(at)),
        ]
        if let credential {
            object["lease_id"] = .string(credential.leaseID.uuidString.lowercased())
            object["expires_at"] = .string(AuditTime.format(expiresAt ?? credential.expiresAt))
            if let username = credential.username { object["username"] = .string(username) }
        }
        if let message { object["message"] = .string(message) }
        return JSONValue.object(object).description + "\n"
    }

    /// Replaces the file at `path` with `text`, atomically, mode 0600.
    public static func write(_ text: String, to path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).airlock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot write `\(path)`: \(String(cString: strerror(errno)))")
        }
        let failed = !SecretFile.writePrivately(descriptor, Array(text.utf8))
        close(descriptor)
        guard !failed, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "cannot write `\(path)`: \(reason)")
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Removes the file at `path` (a credential that ended or was revoked must not linger); a missing file is fine.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Whether `path`'s directory exists and this user may create files in it (for `--dry-run`).
    public static func writableDirectory(for path: String) -> Bool {
        access((path as NSString).deletingLastPathComponent, W_OK | X_OK) == 0
    }

    /// A value for an env file: as it is when it is plain, else single-quoted (systemd's `EnvironmentFile=` and a
    /// POSIX shell read both the same way).
    static func quoted(_ value: String) -> String {
        let plain = value.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_./:@%+,".unicodeScalars.contains($0))
        }
        if plain && !value.isEmpty { return value }
        return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
