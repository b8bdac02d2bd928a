import AirlockPolicy

/// Which addresses the broker may post webhooks to. A webhook is a classic server-side request forgery vector: an
/// admin token, or whoever holds one, could point an endpoint at the cloud metadata service or an internal admin
/// page. So private, loopback, link-local (the metadata service, 169.254.169.254), shared, multicast and reserved
/// ranges are refused, unless configuration allows a range (`webhooks.allowed_ranges`) or, for loopback,
/// development mode. IPv4 addresses embedded in IPv6 (mapped, NAT64) are judged as the IPv4 address.
public struct WebhookAddressPolicy: Sendable, Hashable {
    /// Ranges an admin allowed although they are refused by default.
    public var allowedRanges: [CIDR]
    /// Whether loopback is allowed (development mode: a receiver on the same machine).
    public var allowsLoopback: Bool

    public init(allowedRanges: [CIDR] = [], allowsLoopback: Bool = false) {
        self.allowedRanges = allowedRanges
        self.allowsLoopback = allowsLoopback
    }

    /// The ranges refused by default, with what they are.
    public static let refusedRanges: [(range: CIDR, name: String)] = [
        ("0.0.0.0/8", "this network"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared address space"),
        ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local (cloud metadata)"), ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"), ("192.168.0.0/16", "private"), ("198.18.0.0/15", "benchmarking"),
        ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"), ("ff00::/8", "multicast"),
    ].compactMap { text, name in CIDR(text).map { ($0, name) } }

    /// Nil when the broker may post to `address`; otherwise why not, e.g. "10.1.2.3 is in 10.0.0.0/8 (private)".
    public func refusal(for address: IPAddress) -> String? {
        let judged = Self.embeddedIPv4(address) ?? address
        if allowedRanges.contains(where: { $0.contains(judged) || $0.contains(address) }) { return nil }
        if allowsLoopback && Self.isLoopback(judged) { return nil }
        guard let refused = Self.refusedRanges.first(where: { $0.range.contains(judged) }) else { return nil }
        return "\(address) is in \(refused.range) (\(refused.name)); allow the range in `webhooks.allowed_ranges` if this is intended"
    }

    /// Whether `address` is a loopback address (`127.0.0.0/8`, `::1`, or IPv4 loopback embedded in IPv6).
    public static func isLoopback(_ address: IPAddress) -> Bool {
        let judged = embeddedIPv4(address) ?? address
        switch judged {
        case .v4(let value): return value >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }

    /// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or NAT64
    /// (`64:ff9b::a.b.c.d`) IPv6 address.
    static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        guard case .v6(let high, let low) = address else { return nil }
        let upper = low >> 32
        let v4 = IPAddress.v4(UInt32(truncatingIfNeeded: low))
        if high == 0 && upper == 0xffff { return v4 }
        if high == 0 && upper == 0 && low > 1 { return v4 }
        if high == 0x0064_ff9b_0000_0000 && upper == 0 { return v4 }
        return nil
    }
}
