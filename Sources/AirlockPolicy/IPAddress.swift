/// An IPv4 or IPv6 address. IPv4 addresses and IPv6 addresses never compare equal,
/// even for IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address as a 32-bit number.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(high: UInt64, low: UInt64)

    /// Parses dotted-quad IPv4 (`10.1.2.3`, no leading zeros) or IPv6 with `::` compression
    /// and an optional trailing dotted quad (`::ffff:10.1.2.3`). Zone ids are not accepted.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let groups = Self.parseIPv6(text) else { return nil }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for (index, group) in groups.enumerated() {
                if index < 4 {
                    high = high << 16 | UInt64(group)
                } else {
                    low = low << 16 | UInt64(group)
                }
            }
            self = .v6(high: high, low: low)
        } else {
            guard let value = Self.parseIPv4(Substring(text)) else { return nil }
            self = .v4(value)
        }
    }

    /// The number of bits: 32 or 128.
    public var bitWidth: Int {
        switch self {
        case .v4: 32
        case .v6: 128
        }
    }

    /// The canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed).
    public var description: String {
        switch self {
        case .v4(let value):
            return (0..<4).map { String((value >> (24 - 8 * UInt32($0))) & 0xFF) }.joined(separator: ".")
        case .v6(let high, let low):
            let groups = (0..<8).map { index -> UInt16 in
                let half = index < 4 ? high : low
                return UInt16(truncatingIfNeeded: half >> (48 - 16 * UInt64(index % 4)))
            }
            return Self.formatIPv6(groups)
        }
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.unicodeScalars.allSatisfy(Lexer.isDigit),
                part == "0" || !part.hasPrefix("0"),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func parseIPv6(_ text: String) -> [UInt16]? {
        let halves = splitOnDoubleColon(text)
        guard halves.count <= 2 else { return nil }
        guard let head = parseGroups(halves[0], allowIPv4Tail: halves.count == 1) else { return nil }
        if halves.count == 1 {
            return head.count == 8 ? head : nil
        }
        guard let tail = parseGroups(halves[1], allowIPv4Tail: true), head.count + tail.count <= 7 else { return nil }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }

    private static func splitOnDoubleColon(_ text: String) -> [String] {
        var halves: [String] = [""]
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            if scalars[index] == ":", index + 1 < scalars.count, scalars[index + 1] == ":" {
                halves.append("")
                index += 2
            } else {
                halves[halves.count - 1].unicodeScalars.append(scalars[index])
                index += 1
            }
        }
        return halves
    }

    private static func parseGroups(_ text: String, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowIPv4Tail, part.contains(".") {
                guard let v4 = parseIPv4(part) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                continue
            }
            guard (1...4).contains(part.count), part.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit),
                let group = UInt16(part, radix: 16)
            else { return nil }
            groups.append(group)
        }
        return groups
    }

    private static func formatIPv6(_ groups: [UInt16]) -> String {
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < groups.count {
            if groups[index] == 0 {
                var end = index
                while end < groups.count, groups[end] == 0 { end += 1 }
                if end - index > bestLength, end - index >= 2 {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
