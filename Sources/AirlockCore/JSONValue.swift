import Foundation

/// A JSON value: the document model used for audit events, canonical hashing and
/// structured configuration.
///
/// Numbers are kept as ``int(_:)`` when written as an integer that fits `Int64`
/// (exactly, even beyond ±2^53) or when integral and within ±2^53 (`1.0`, `1e2`),
/// and as ``double(_:)`` otherwise. Booleans are never confused with `1` and `0`.
///
/// Equality is Swift's: `.int(1)` and `.double(1.0)` are different values although
/// both serialise canonically as `1` (parsing never produces the latter), and
/// strings compare by canonical equivalence, so precomposed and decomposed `é`
/// are equal values with different canonical bytes. Compare ``canonicalData()``
/// when byte identity matters.
public enum JSONValue: Sendable, Hashable {
    /// The JSON `null` literal.
    case null
    /// A JSON `true` or `false`.
    case bool(Bool)
    /// A JSON number that is integral and fits a signed 64-bit integer.
    case int(Int64)
    /// Any other JSON number. Non-finite values cannot be parsed or decoded; see
    /// ``canonicalData()`` for how a hand-built non-finite value serialises.
    case double(Double)
    /// A JSON string.
    case string(String)
    /// A JSON array.
    case array([JSONValue])
    /// A JSON object. Key order carries no meaning.
    case object([String: JSONValue])
}

// MARK: - Parsing

extension JSONValue {
    /// Parses a complete JSON document (any value is accepted at the top level).
    ///
    /// The parser is strict RFC 8259 with the I-JSON restrictions RFC 8785
    /// requires: it rejects trailing commas, duplicate object keys, lone
    /// surrogates, invalid UTF-8, numbers that overflow a `Double` and nesting
    /// deeper than 512. Booleans are never read as numbers.
    ///
    /// - Parameter data: UTF-8 encoded JSON text.
    /// - Returns: The parsed value.
    /// - Throws: `DecodingError.dataCorrupted` naming the byte offset of the problem.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONParser.parse(Array(data))
    }

    /// Parses a complete JSON document given as a string.
    ///
    /// - Parameter text: JSON text.
    /// - Returns: The parsed value.
    /// - Throws: A `DecodingError` when `text` is not valid JSON.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Data(text.utf8))
    }
}

// MARK: - Codable

extension JSONValue: Codable {
    /// The largest magnitude at which every integer is exactly representable as a `Double` (2^53).
    private static let maxExactDoubleInteger: Double = 9_007_199_254_740_992

    /// Decodes any JSON value.
    ///
    /// Numbers decode as ``int(_:)`` when the source number is integral and fits
    /// `Int64` (or, when the decoder only offers a `Double`, when it is integral
    /// and within ±2^53), and as ``double(_:)`` otherwise. Booleans decode as
    /// ``bool(_:)`` and never as a number.
    ///
    /// This path exists so a `JSONValue` can sit inside other `Codable` types; it
    /// inherits the decoder's leniency (`JSONDecoder` accepts trailing commas and
    /// keeps the first of duplicate keys). Use ``parse(_:)-(Data)`` for untrusted
    /// or hashed documents.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = JSONValue(number: value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "value is not a json null, boolean, number, string, array or object"
            )
        }
    }

    /// Encodes the value as the matching JSON value.
    ///
    /// Encoders that reject non-finite numbers (such as `JSONEncoder` by default)
    /// throw for a hand-built non-finite ``double(_:)``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A number as ``int(_:)`` when it is exactly an integer within ±2^53 (where
    /// every integer is exact, so no digits are invented), else as ``double(_:)``.
    init(number value: Double) {
        if abs(value) <= Self.maxExactDoubleInteger, let integer = Int64(exactly: value) {
            self = .int(integer)
        } else {
            self = .double(value)
        }
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The member named `key` when this is an object that has it, otherwise `nil`.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The element at `index` when this is an array and `index` is in range, otherwise `nil`.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// `true` when this is ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The boolean when this is ``bool(_:)``, otherwise `nil` (numbers are not booleans).
    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    /// The integer when this is ``int(_:)``, or a ``double(_:)`` that is exactly an `Int64`; otherwise `nil`.
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value): return Int64(exactly: value)
        default: return nil
        }
    }

    /// The number as a `Double` when this is ``int(_:)`` or ``double(_:)``, otherwise `nil`.
    ///
    /// Integers beyond ±2^53 are rounded to the nearest `Double`.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The string when this is ``string(_:)``, otherwise `nil`.
    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// The elements when this is ``array(_:)``, otherwise `nil`.
    public var arrayValue: [JSONValue]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    /// The members when this is ``object(_:)``, otherwise `nil`.
    public var objectValue: [String: JSONValue]? {
        guard case .object(let value) = self else { return nil }
        return value
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    /// Creates ``null`` from `nil`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// Creates ``bool(_:)`` from `true` or `false`.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// Creates ``int(_:)`` from an integer literal.
    public init(integerLiteral value: Int64) {
        self = .int(value)
    }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// Creates ``double(_:)`` from a floating-point literal.
    public init(floatLiteral value: Double) {
        self = .double(value)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Creates ``string(_:)`` from a string literal.
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// Creates ``array(_:)`` from an array literal.
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates ``object(_:)`` from a dictionary literal; when a key repeats, the last value wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

// MARK: - Description

extension JSONValue: CustomStringConvertible {
    /// The canonical (RFC 8785) JSON text of the value.
    public var description: String {
        canonicalString()
    }
}
