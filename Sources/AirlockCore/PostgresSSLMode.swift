import Foundation

/// How a connection to PostgreSQL uses TLS, named as libpq's `sslmode` names it.
///
/// The default depends on where the server is (``default(forHost:)``): `verify-full` for any host that is not on
/// this machine, because every weaker mode lets an active attacker on the path read the session or relay the
/// login (with `prefer` it answers "no TLS" for the server; with `require` or `verify-ca` it presents a
/// certificate of its own or one issued for another host). A weaker mode is accepted only when written
/// explicitly, and the broker warns of it at every start (``isRelaxed(forHost:)``).
///
/// `allow` (plaintext first) is not offered.
public enum PostgresSSLMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// No TLS.
    case disable
    /// TLS if the server offers it, plaintext otherwise; the certificate is not checked.
    case prefer
    /// TLS or no connection; the certificate is not checked.
    case require
    /// TLS, and the server's certificate must chain to a trusted authority (`sslrootcert`, or the system's);
    /// the name in it is not checked.
    case verifyCA = "verify-ca"
    /// TLS, the certificate must chain to a trusted authority and name the host connected to.
    case verifyFull = "verify-full"

    public var description: String { rawValue }

    /// Whether this mode checks the server's certificate against trusted authorities (so `sslrootcert` means
    /// something).
    public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }

    /// The mode used when none is written: `verify-full` for a host that is not on this machine, `prefer` for
    /// the loopback (``isLoopback(_:)``), where no one else is on the path.
    public static func `default`(forHost host: String) -> PostgresSSLMode {
        isLoopback(host) ? .prefer : .verifyFull
    }

    /// Whether this mode is weaker than the default for a remote `host`: anything but `verify-full` for a host
    /// that is not on this machine. The broker warns of such a setting at every start.
    public func isRelaxed(forHost host: String) -> Bool {
        self != .verifyFull && !Self.isLoopback(host)
    }

    /// Whether `host` is on this machine: a Unix socket directory (a path starting with `/`), or a loopback host
    /// (``LoopbackHost/contains(_:)``).
    public static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("/") || LoopbackHost.contains(host)
    }

}
