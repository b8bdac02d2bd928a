import AirlockCore
import AirlockPostgres
import AirlockStore
import Logging

/// The start-up check of how the broker reaches PostgreSQL: its own database and every `postgres` resource.
///
/// A connection to a host that is not this machine is `verify-full` unless configured otherwise; any weaker
/// `sslmode` there is warned of at every start, naming the database (its URL without the password) or the
/// resource, so that a relaxation made for a test cannot be forgotten. An `sslrootcert` file that cannot be read
/// stops the start: a broker that could never connect should say so at once.
public enum TransportSecurityWarnings {
    /// A connection whose `sslmode` is weaker than `verify-full` for a remote host.
    public struct Relaxation: Sendable, Equatable, CustomStringConvertible {
        /// `database` or `resource `ID``.
        public let subject: String
        /// Where it connects: host and port (and database), never a password.
        public let endpoint: String
        public let mode: PostgresSSLMode

        public var description: String { "\(subject) at \(endpoint): sslmode \(mode)" }
    }

    /// The relaxed connections among the broker's database and the `postgres` resources.
    public static func relaxations(database: DatabaseURL, resources: [Resource]) -> [Relaxation] {
        var found: [Relaxation] = []
        if database.tlsMode.isRelaxed(forHost: database.host) {
            found.append(Relaxation(
                subject: "the broker's database", endpoint: "\(database.host):\(database.port)/\(database.database)",
                mode: database.tlsMode))
        }
        for resource in resources {
            guard let target = resource.postgres, target.sslMode.isRelaxed(forHost: target.host) else { continue }
            found.append(Relaxation(
                subject: "resource `\(resource.id)`", endpoint: "\(target.host):\(target.port)/\(target.database)",
                mode: target.sslMode))
        }
        return found
    }

    /// Logs one warning per relaxed connection and returns them.
    @discardableResult
    public static func warn(database: DatabaseURL, resources: [Resource], logger: Logger) -> [Relaxation] {
        let found = relaxations(database: database, resources: resources)
        for relaxation in found {
            logger.warning(
                "\(relaxation.subject) is reached with sslmode `\(relaxation.mode)` rather than `verify-full`: an attacker on the path can read the session or relay the login",
                metadata: [
                    "subject": "\(relaxation.subject)", "endpoint": "\(relaxation.endpoint)",
                    "sslmode": "\(relaxation.mode)",
                ])
        }
        return found
    }

    /// Refuses an `sslrootcert` that cannot be read or holds no certificate.
    ///
    /// - Throws: ``ConfigurationError`` naming `database.url` or the resource.
    public static func checkRootCertificates(database: DatabaseURL, resources: [Resource]) throws(ConfigurationError) {
        if let problem = database.tls.checkRootCertificate() {
            throw ConfigurationError(key: "database.url", message: "sslrootcert: \(problem)")
        }
        for resource in resources {
            guard let target = resource.postgres else { continue }
            let tls = PostgresTLS(sslmode: target.sslMode.rawValue, rootCertificate: target.sslRootCert)
            if let problem = tls.checkRootCertificate() {
                throw ConfigurationError(key: "resources.\(resource.id).postgres.sslrootcert", message: problem)
            }
        }
    }
}
