import AirlockPolicy

/// The network a source address is judged by: its IPv4 /24 or its IPv6 /64 (one household, office floor or
/// mobile carrier cell rather than one address, which changes with every DHCP lease).
public enum SourceNetwork {
    /// `203.0.113.0/24`, `2001:db8:1:2::/64`; nil when `address` is not an IP address.
    public static func of(_ address: String) -> String? {
        guard let ip = IPAddress(address) else { return nil }
        let prefix = switch ip {
        case .v4: 24
        case .v6: 64
        }
        return CIDR(address: ip, prefixLength: prefix)?.description
    }
}
