/// The four entities a policy can read: `principal`, `resource`, `request`, `risk`.
public enum EntityRoot: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Who asks: `principal.groups`, `principal.mfa_age`, ….
    case principal
    /// What is asked for: `resource.env`, `resource.tags`, ….
    case resource
    /// The request itself: `request.role`, `request.ttl`, ….
    case request
    /// What the risk engine says: `risk.score`, `risk.signals`.
    case risk

    /// Orders as declared: principal, resource, request, risk.
    public static func < (lhs: EntityRoot, rhs: EntityRoot) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

/// An attribute name such as `principal.mfa_age`.
public struct AttributePath: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The entity.
    public let root: EntityRoot
    /// The attribute name within the entity.
    public let name: String
    /// The FNV hash compiled policies find the attribute's slot with, computed once when the path is made (an
    /// input's paths are made when it is decoded, so a decision hashes no attribute name).
    let tableHash: UInt64

    /// Creates a path.
    public init(_ root: EntityRoot, _ name: String) {
        self.root = root
        self.name = name
        self.tableHash = CompiledTable<AttributePath>.hash(name, seed: UInt64(root.tableSeed))
    }

    /// Equal when root and name are.
    public static func == (lhs: AttributePath, rhs: AttributePath) -> Bool {
        lhs.root == rhs.root && lhs.name == rhs.name
    }

    /// Hashes root and name.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(root)
        hasher.combine(name)
    }

    /// `root.name`.
    public var description: String { "\(root.rawValue).\(name)" }

    /// Orders by root, then name.
    public static func < (lhs: AttributePath, rhs: AttributePath) -> Bool {
        lhs.root == rhs.root ? lhs.name < rhs.name : lhs.root < rhs.root
    }
}

/// The type of an attribute value, as declared in the schema.
public enum ValueType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `String`
    case string = "String"
    /// `Int` (64-bit, signed)
    case int = "Int"
    /// `Bool`
    case bool = "Bool"
    /// `Duration` (seconds; integer seconds in JSON input)
    case duration = "Duration"
    /// `IP` (a string in JSON input)
    case ip = "IP"
    /// `Set<String>` (an array of strings in JSON input)
    case stringSet = "Set<String>"

    /// The type's name as written in schema declarations.
    public var description: String { rawValue }
}

/// A declared attribute type: a value type and whether the attribute may be absent.
public struct AttributeType: Sendable, Hashable, CustomStringConvertible {
    /// The type of the value when present.
    public let valueType: ValueType
    /// Whether the attribute may be absent (written `?`); reads must then be guarded by `has`.
    public let isOptional: Bool

    /// Creates an attribute type.
    public init(_ valueType: ValueType, optional: Bool = false) {
        self.valueType = valueType
        self.isOptional = optional
    }

    /// `String`, `Duration?`, ….
    public var description: String { valueType.rawValue + (isOptional ? "?" : "") }
}
