import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one test of "is this host this machine" for choosing defaults and refusing clear text: a PostgreSQL host's
/// `sslmode`, and where a token may go over plain http (the CLI's and the agent's broker address).
public enum LoopbackHost {
    /// Whether `host` (a name or an address, IPv6 with or without brackets) is on this machine: `localhost`, an address
    /// in 127.0.0.0/8, `::1` (or `::ffff:127.x.y.z`).
    ///
    /// Any other name counts as remote, even one that resolves to the loopback: what it resolves to is up to
    /// DNS, which the attacker this rule is about may answer.
    public static func contains(_ host: String) -> Bool {
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
