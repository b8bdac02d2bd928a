/// An IPv4 or IPv6 network. Host bits are cleared: `cidr("10.1.2.3/8")` is `10.0.0.0/8`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, with every bit after ``prefixLength`` zero.
    public let network: IPAddress
    /// The number of leading bits that identify the network (0–32 for IPv4, 0–128 for IPv6).
    public let prefixLength: Int

    /// Creates a network from an address and a prefix length, clearing host bits; nil if the prefix is too long.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.bitWidth else { return nil }
        self.prefixLength = prefixLength
        self.network = Self.mask(address, prefixLength)
    }

    /// Parses `ADDRESS/PREFIX`, e.g. `10.0.0.0/8` or `2001:db8::/32`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])),
            !parts[1].isEmpty, parts[1].count <= 3, parts[1].unicodeScalars.allSatisfy(Lexer.isDigit),
            parts[1] == "0" || !parts[1].hasPrefix("0"),
            let length = Int(parts[1])
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// `network/prefixLength`.
    public var description: String { "\(network)/\(prefixLength)" }

    /// Whether `address` is inside this network; an address of the other family never is.
    public func contains(_ address: IPAddress) -> Bool {
        switch (network, address) {
        case (.v4, .v4), (.v6, .v6):
            return Self.mask(address, prefixLength) == network
        default:
            return false
        }
    }

    private static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            let mask: UInt32 = length == 0 ? 0 : UInt32.max << UInt32(32 - length)
            return .v4(value & mask)
        case .v6(let high, let low):
            let highMask: UInt64 = length == 0 ? 0 : (length >= 64 ? UInt64.max : UInt64.max << UInt64(64 - length))
            let lowLength = length - 64
            let lowMask: UInt64 = lowLength <= 0 ? 0 : (lowLength >= 64 ? UInt64.max : UInt64.max << UInt64(64 - lowLength))
            return .v6(high: high & highMask, low: low & lowMask)
        }
    }
}
