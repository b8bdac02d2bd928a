import AirlockCore
import AirlockPostgres
import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=...&sslrootcert=...` URL.
///
/// `description` never shows the password, so a `DatabaseURL` is safe to log.
public struct DatabaseURL: Sendable, CustomStringConvertible, Equatable {
    /// How the connection uses TLS, as libpq's `sslmode` says it.
    public typealias TLSMode = PostgresSSLMode

    public var host: String
    public var port: Int
    public var username: String
    /// The password, if any. Never log it.
    public var password: String?
    public var database: String
    /// The `sslmode`: as written, or ``PostgresSSLMode/default(forHost:)`` (`verify-full` unless the host is
    /// this machine).
    public var tlsMode: TLSMode
    /// `sslrootcert`: a PEM file of the authorities trusted to sign the server's certificate (or `system`); only
    /// with `verify-ca` and `verify-full`. Nil: the system's.
    public var rootCertificate: String?

    /// Parses a URL of the form `postgres://user:password@host:port/database?sslmode=verify-full`.
    ///
    /// Only `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) and `sslrootcert` are accepted
    /// as query parameters; anything else is an error, so that a typo cannot silently weaken the connection.
    /// Without `sslmode`, a host that is not this machine gets `verify-full`.
    public init(_ text: String) throws(StoreError) {
        guard let components = URLComponents(string: text) else {
            throw .invalidDatabaseURL("not a url (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw .invalidDatabaseURL("the scheme must be `postgres` or `postgresql`")
        }
        guard let user = components.user, !user.isEmpty else {
            throw .invalidDatabaseURL("a user name is required (postgres://USER@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))  // `path` is already decoded
        guard !database.isEmpty, !database.contains("/") else {
            throw .invalidDatabaseURL("a database name is required (postgres://user@host/DATABASE)")
        }
        var tlsMode: TLSMode?
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw .invalidDatabaseURL("`sslmode` must be disable, prefer, require, verify-ca or verify-full")
                }
                tlsMode = mode
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else {
                    throw .invalidDatabaseURL("`sslrootcert` must name a PEM file of trusted authorities (or `system`)")
                }
                rootCertificate = value
            default:
                throw .invalidDatabaseURL("unknown parameter `\(item.name)` (only `sslmode` and `sslrootcert` are supported)")
            }
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw .invalidDatabaseURL("the port must be between 1 and 65535")
        }
        self.host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        self.port = components.port ?? 5432
        self.username = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.database = database
        self.tlsMode = tlsMode ?? .default(forHost: host)
        if rootCertificate != nil, !self.tlsMode.verifiesCertificate {
            throw .invalidDatabaseURL("`sslrootcert` needs `sslmode` verify-ca or verify-full (it is `\(self.tlsMode)`)")
        }
        self.rootCertificate = rootCertificate
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let auth = password == nil ? username : "\(username):***"
        let root = rootCertificate.map { "&sslrootcert=\($0)" } ?? ""
        return "postgres://\(auth)@\(host):\(port)/\(database)?sslmode=\(tlsMode.rawValue)\(root)"
    }

    /// The same server with another database.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The TLS settings of ``tlsMode`` and ``rootCertificate``.
    public var tls: PostgresTLS {
        PostgresTLS(sslmode: tlsMode.rawValue, rootCertificate: rootCertificate)
    }

    /// The configuration of a connection pool for this URL.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls.client)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of a single connection for this URL (for tools that need exactly one).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: try tls.connection())
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
