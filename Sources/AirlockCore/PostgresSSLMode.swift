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

    /// Whether `host` is on this machine: `localhost`, an address in 127.0.0.0/8, `::1` (or `::ffff:127.x.y.z`),
    /// or a Unix socket directory (a path starting with `/`).
    ///
    /// Any other name counts as remote, even one that resolves to the loopback: what it resolves to is up to
    /// DNS, which the attacker this rule is about may answer.
    public static func isLoopback(_ host: String) -> Bool {
        if host.hasPrefix("/") { return true }
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" { return true }
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if let zone = name.firstIndex(of: "%") { name = String(name[..<zone]) }
        if let octets = ipv4Octets(name) { return octets[0] == 127 }
        guard name.contains(":") else { return false }
        var address = in6_addr()
        guard inet_pton(AF_INET6, name, &address) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &address) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
        let mapped = bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff
        return mapped && bytes[12] == 127  // ::ffff:127.x.y.z
    }

    /// The four octets of a dotted-quad IPv4 address, or nil when `text` is not exactly one.
    private static func ipv4Octets(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = UInt8(part) else { return nil }
            octets.append(value)
        }
        return octets
    }
}
