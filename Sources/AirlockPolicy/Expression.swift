/// A condition expression of the AST. Every node carries the location where it starts.
///
/// Chains of `and` and of `or` written without parentheses are one n-ary node, so the depth of the
/// tree grows only with parentheses, `not` and lists, which the parser limits.
public struct Expression: Sendable, Hashable {
    /// The shape of an expression node.
    public indirect enum Kind: Sendable, Hashable {
        /// A constant: string, integer, boolean, duration, `ip(...)`, `cidr(...)`.
        case literal(Literal)
        /// A list literal `[a, b]`.
        case list([Expression])
        /// An attribute read, `principal.groups`.
        case attribute(AttributePath)
        /// A presence test, `principal has mfa_age`.
        case has(AttributePath)
        /// Negation, `not E`.
        case not(Expression)
        /// Conjunction of two or more operands, evaluated left to right with short-circuit.
        case and([Expression])
        /// Disjunction of two or more operands, evaluated left to right with short-circuit.
        case or([Expression])
        /// A binary comparison such as `risk.score < 30` or `"sre" in principal.groups`.
        case comparison(ComparisonOperator, Expression, Expression, operatorLocation: SourceLocation)
        /// A glob match, `request.reason like "INC-*"`; the pattern is always a string literal.
        case like(Expression, GlobPattern, operatorLocation: SourceLocation)
    }

    /// The node.
    public var kind: Kind
    /// Where the expression starts in the source.
    public var location: SourceLocation

    /// Creates an expression node.
    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }
}

/// A constant written in a policy.
public enum Literal: Sendable, Hashable {
    /// `"text"`
    case string(String)
    /// `42`, `-7`
    case int(Int64)
    /// `true`, `false`
    case bool(Bool)
    /// `15m`, in seconds
    case duration(Int64)
    /// `ip("10.1.2.3")`
    case ip(IPAddress)
    /// `cidr("10.0.0.0/8")`, host bits cleared
    case cidr(CIDR)

    /// The literal as a value.
    public var value: Value {
        switch self {
        case .string(let text): .string(text)
        case .int(let value): .int(value)
        case .bool(let value): .bool(value)
        case .duration(let seconds): .duration(seconds)
        case .ip(let address): .ip(address)
        case .cidr(let network): .cidr(network)
        }
    }
}

/// The binary operators other than `and`, `or` and `like`.
public enum ComparisonOperator: String, Sendable, Hashable, CaseIterable {
    /// `==`: two values of one type (String, Int, Bool, Duration, IP).
    case equal = "=="
    /// `!=`: two values of one type (String, Int, Bool, Duration, IP).
    case notEqual = "!="
    /// `<` on Int or Duration.
    case less = "<"
    /// `<=` on Int or Duration.
    case lessOrEqual = "<="
    /// `>` on Int or Duration.
    case greater = ">"
    /// `>=` on Int or Duration.
    case greaterOrEqual = ">="
    /// `in`: element in a list or set; IP in a CIDR or in a list of CIDRs and IPs.
    case `in` = "in"
    /// `contains`: set (or list) contains an element.
    case contains = "contains"
    /// `contains_any`: the set shares at least one element with the list.
    case containsAny = "contains_any"
    /// `contains_all`: the set holds every element of the list.
    case containsAll = "contains_all"

    /// Whether this is one of `< <= > >=`.
    public var isOrdering: Bool {
        switch self {
        case .less, .lessOrEqual, .greater, .greaterOrEqual: true
        default: false
        }
    }
}
