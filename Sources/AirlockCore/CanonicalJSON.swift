import Foundation

/// RFC 8785 JSON Canonicalization Scheme (JCS).
///
/// The canonical form is the byte sequence that is hashed and signed (for
/// example by the audit chain), so it must never change for a given value:
///
/// - no insignificant whitespace;
/// - object members sorted by the UTF-16 code units of their keys;
/// - strings escaped as ECMAScript `JSON.stringify` does: `\"`, `\\`, `\b`, `\f`,
///   `\n`, `\r`, `\t`, other code points below U+0020 as `\u00xx` (lowercase hex),
///   everything else (including non-ASCII, U+2028 and U+2029) as literal UTF-8;
/// - ``JSONValue/int(_:)`` as its exact decimal digits;
/// - ``JSONValue/double(_:)`` in ECMAScript Number-to-String form (shortest
///   round-trip digits, `1e+21`, `1e-7`, `-0` written as `0`).
///
/// Two deliberate notes on numbers:
///
/// - An ``JSONValue/int(_:)`` beyond ±2^53 is written exactly, where a strict JCS
///   implementation (which sees every number as an IEEE double) would round it.
///   Within ±2^53 the output is identical to JCS.
/// - JSON has no NaN or infinity and RFC 8785 rejects them. ``JSONValue/parse(_:)``
///   and decoding can never produce them, so serialisation is non-throwing: a
///   hand-built non-finite ``JSONValue/double(_:)`` is written as `null`, exactly
///   as ECMAScript `JSON.stringify` does.
extension JSONValue {
    /// The RFC 8785 canonical UTF-8 bytes of the value.
    public func canonicalData() -> Data {
        Data(canonicalBytes())
    }

    /// The RFC 8785 canonical JSON text of the value.
    public func canonicalString() -> String {
        String(decoding: canonicalBytes(), as: UTF8.self)
    }

    /// The RFC 8785 canonical UTF-8 bytes of the value, as an array.
    public func canonicalBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        CanonicalJSONWriter.write(self, into: &output)
        return output
    }
}

/// The serialiser behind ``JSONValue/canonicalData()``.
enum CanonicalJSONWriter {
    static func write(_ value: JSONValue, into output: inout [UInt8]) {
        switch value {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let integer):
            output.append(contentsOf: String(integer).utf8)
        case .double(let number):
            output.append(contentsOf: ECMAScriptNumber.string(number).utf8)
        case .string(let text):
            writeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            for (index, key) in keys.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                if let member = members[key] {
                    write(member, into: &output)
                }
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""):
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"):
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            default:
                // Every other byte, including all bytes of multi-byte UTF-8 sequences
                // (which are >= 0x80), is copied literally.
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

/// ECMAScript `Number::toString` (ECMA-262, 7.1.12.1) for finite doubles.
enum ECMAScriptNumber {
    /// Formats `value` exactly as ECMAScript does; non-finite values give `null`
    /// (as `JSON.stringify` does).
    static func string(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == 0 { return "0" }  // +0 and -0
        let sign = value < 0 ? "-" : ""
        let (digits, pointPosition) = shortestDigits(of: value.magnitude)
        return sign + layout(digits: digits, n: pointPosition)
    }

    /// The shortest round-trip decimal digits `s` (no leading or trailing zeros)
    /// and the exponent `n` such that the value is `0.s × 10^n`.
    ///
    /// Swift's `description` already yields the shortest digits that round-trip,
    /// choosing the closest when several qualify (the ECMAScript rule); only the
    /// layout differs, so the digits and exponent are extracted from it.
    private static func shortestDigits(of magnitude: Double) -> (digits: [UInt8], n: Int) {
        let description = magnitude.description
        let parts = description.split(separator: "e", maxSplits: 1)
        let mantissa = parts.first ?? Substring(description)
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        var digits: [UInt8] = []
        var integerDigitCount = 0
        var seenPoint = false
        for byte in mantissa.utf8 {
            if byte == UInt8(ascii: ".") {
                seenPoint = true
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                digits.append(byte)
                if !seenPoint { integerDigitCount += 1 }
            }
        }
        var n = integerDigitCount + exponent
        // Strip leading zeros (each moves the decimal point left by one digit).
        var leading = 0
        while leading < digits.count - 1, digits[leading] == UInt8(ascii: "0") {
            leading += 1
        }
        digits.removeFirst(leading)
        n -= leading
        // Strip trailing zeros (they do not move the point).
        while digits.count > 1, digits.last == UInt8(ascii: "0") {
            digits.removeLast()
        }
        return (digits, n)
    }

    /// Lays out digits `s` (k of them) with point position `n` per ECMA-262.
    private static func layout(digits: [UInt8], n: Int) -> String {
        let k = digits.count
        var result: [UInt8] = []
        if k <= n, n <= 21 {
            result = digits + Array(repeating: UInt8(ascii: "0"), count: n - k)
        } else if 0 < n, n <= 21 {
            result = Array(digits[0..<n]) + [UInt8(ascii: ".")] + Array(digits[n...])
        } else if -6 < n, n <= 0 {
            result = Array("0.".utf8) + Array(repeating: UInt8(ascii: "0"), count: -n) + digits
        } else {
            let exponent = n - 1
            let exponentText = (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
            result = [digits[0]]
            if k > 1 {
                result.append(UInt8(ascii: "."))
                result.append(contentsOf: digits[1...])
            }
            result.append(UInt8(ascii: "e"))
            result.append(contentsOf: exponentText.utf8)
        }
        return String(decoding: result, as: UTF8.self)
    }
}
