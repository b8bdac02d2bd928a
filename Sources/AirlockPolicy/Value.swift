/// A typed attribute or expression value.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    /// A string.
    case string(String)
    /// A 64-bit integer.
    case int(Int64)
    /// A boolean.
    case bool(Bool)
    /// A duration in seconds.
    case duration(Int64)
    /// An IPv4 or IPv6 address.
    case ip(IPAddress)
    /// A set of strings.
    case set(Set<String>)
    /// A network, from a `cidr("...")` literal.
    case cidr(CIDR)
    /// A list, from a `[...]` literal.
    case list([Value])

    /// The value as written in a policy: `"prod"`, `42`, `true`, `1h30m`, `ip("10.0.0.1")`,
    /// `cidr("10.0.0.0/8")`, `["a", "b"]` (set elements sorted).
    public var description: String {
        switch self {
        case .string(let text): "\"\(StringEscaping.escape(text))\""
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .duration(let seconds): DurationText.format(seconds)
        case .ip(let address): "ip(\"\(address)\")"
        case .cidr(let network): "cidr(\"\(network)\")"
        case .set(let elements): "[" + elements.sorted().map { Value.string($0).description }.joined(separator: ", ") + "]"
        case .list(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }

    /// The name of the value's type as the policy language spells it (`String`, `Set<String>`, `list`).
    public var typeName: String {
        switch self {
        case .string: "String"
        case .int: "Int"
        case .bool: "Bool"
        case .duration: "Duration"
        case .ip: "IP"
        case .set: "Set<String>"
        case .cidr: "CIDR"
        case .list: "list"
        }
    }
}
