import Foundation
import NIOSSL
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=...` URL.
///
/// `description` never shows the password, so a `DatabaseURL` is safe to log.
public struct DatabaseURL: Sendable, CustomStringConvertible, Equatable {
    /// How the connection uses TLS, as libpq's `sslmode` says it.
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    /// The password, if any. Never log it.
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode

    /// Parses a URL of the form `postgres://user:password@host:port/database?sslmode=disable`.
    ///
    /// Only `sslmode` (`disable`, `prefer`, `require`) is accepted as a query parameter; anything else is an error,
    /// so that a typo cannot silently weaken the connection.
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
        var tlsMode = TLSMode.prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw .invalidDatabaseURL("unknown parameter `\(item.name)` (only `sslmode` is supported)")
            }
            guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                throw .invalidDatabaseURL("`sslmode` must be disable, prefer or require")
            }
            tlsMode = mode
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw .invalidDatabaseURL("the port must be between 1 and 65535")
        }
        self.host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        self.port = components.port ?? 5432
        self.username = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.database = database
        self.tlsMode = tlsMode
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let auth = password == nil ? username : "\(username):***"
        return "postgres://\(auth)@\(host):\(port)/\(database)?sslmode=\(tlsMode.rawValue)"
    }

    /// The same server with another database.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The configuration of a connection pool for this URL.
    public func clientConfiguration() -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of a single connection for this URL (for tools that need exactly one).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
