import AirlockCore
import Foundation

/// A PostgreSQL login Airlock issued: shown once to its owner and never stored.
///
/// `description`, `debugDescription` and reflection (`dump`, `Mirror`) hide the password and the DSN; read
/// ``password`` or ``dsn`` explicitly to hand them over.
public struct PostgresCredential: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The login role, `airlock_<template>_<random>`.
    public let username: String
    /// The password (40 base62 characters). Never log it.
    public let password: String
    /// The target's host.
    public let host: String
    /// The target's port.
    public let port: Int
    /// The only database the login may connect to.
    public let database: String
    /// The `sslmode` a client should use.
    public let sslMode: String
    /// When the role stops accepting password logins (`VALID UNTIL`).
    public let expiresAt: Date
    /// The lease the credential belongs to (also in the role's comment).
    public let leaseID: UUID

    /// Creates a credential.
    public init(
        username: String, password: String, host: String, port: Int, database: String, sslMode: String,
        expiresAt: Date, leaseID: UUID
    ) {
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.sslMode = sslMode
        self.expiresAt = expiresAt
        self.leaseID = leaseID
    }

    /// The role name, by which the credential is revoked.
    public var identifier: String { username }

    /// `postgresql://user:password@host:port/database?sslmode=…`, for `psql` and libpq clients. Holds the password.
    public var dsn: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgresql://\(Self.encode(username)):\(Self.encode(password))@\(hostPart):\(port)/"
            + "\(Self.encode(database))?sslmode=\(Self.encode(sslMode))"
    }

    /// The credential without its password.
    public var description: String {
        let expiry = ISO8601DateFormatter().string(from: expiresAt)
        return "PostgresCredential(username: \(username), password: ***, host: \(host), port: \(port), "
            + "database: \(database), expiresAt: \(expiry), leaseID: \(leaseID.uuidString.lowercased()))"
    }

    /// Same as ``description``: the password stays hidden.
    public var debugDescription: String { description }

    /// Reflection without the password or DSN.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "username": username, "password": "***", "host": host, "port": port, "database": database,
                "sslMode": sslMode, "expiresAt": expiresAt, "leaseID": leaseID,
            ],
            displayStyle: .struct)
    }

    /// RFC 3986 unreserved characters: the only ones left unencoded in the DSN.
    private static let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

    private static func encode(_ part: String) -> String {
        let allowed = CharacterSet(charactersIn: unreserved)
        return part.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
