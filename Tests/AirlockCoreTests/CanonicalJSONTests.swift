import Foundation
import Testing

@testable import AirlockCore

@Suite("Canonical JSON (RFC 8785)")
struct CanonicalJSONTests {
    // MARK: RFC 8785 examples

    @Test("section 3.2.2 example: numbers, string escapes, literals")
    func rfcMainExample() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        let value = try JSONValue.parse(input)
        #expect(value.canonicalString() == expected)
        #expect(value.canonicalData() == Data(expected.utf8))
    }

    @Test("section 3.2.3 example: keys sorted by UTF-16 code units")
    func rfcSortingExample() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\","
            + "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\","
            + "\"\u{1F600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        let value = try JSONValue.parse(input)
        #expect(value.canonicalString() == expected)
    }

    @Test("UTF-16 order differs from code point order above the BMP")
    func utf16NotScalarOrder() {
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB33 (a code point order would put it after).
        let value: JSONValue = ["\u{fb33}": 1, "\u{1F600}": 2]
        #expect(value.canonicalString() == "{\"\u{1F600}\":2,\"\u{fb33}\":1}")
    }

    /// RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
    static let appendixB: [(UInt64, String)] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xc340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
        (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
        (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x41b3_de43_5555_5553, "333333333.3333332"),
        (0x41b3_de43_5555_5554, "333333333.33333325"),
        (0x41b3_de43_5555_5555, "333333333.3333333"),
        (0x41b3_de43_5555_5556, "333333333.3333334"),
        (0x41b3_de43_5555_5557, "333333333.33333343"),
        (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
        (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
    ]

    @Test("Appendix B number serialisation", arguments: appendixB)
    func appendixBNumbers(bits: UInt64, expected: String) throws {
        let number = Double(bitPattern: bits)
        #expect(JSONValue.double(number).canonicalString() == expected)
        // Parsing the canonical text gives back the same number, whichever case it lands in.
        let reparsed = try JSONValue.parse(expected)
        #expect(reparsed.doubleValue == (number == 0 ? 0 : number))
        #expect(reparsed.canonicalString() == expected)
    }

    static let numberCases: [(Double, String)] = [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (0.1, "0.1"),
        (0.5, "0.5"),
        (-1.25, "-1.25"),
        (123.456, "123.456"),
        (100, "100"),
        (1.2345678901234568e20, "123456789012345680000"),
        (.leastNonzeroMagnitude, "5e-324"),
        (-0.0, "0"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.5e25, "2.5e+25"),
        (1e300, "1e+300"),
        (4.35, "4.35"),
        (0.000123, "0.000123"),
        (123e-20, "1.23e-18"),
    ]

    @Test("ECMAScript number formatting", arguments: numberCases)
    func numbers(number: Double, expected: String) {
        #expect(JSONValue.double(number).canonicalString() == expected)
    }

    @Test("integers are written exactly")
    func integers() {
        #expect(JSONValue.int(0).canonicalString() == "0")
        #expect(JSONValue.int(-42).canonicalString() == "-42")
        #expect(JSONValue.int(.max).canonicalString() == "9223372036854775807")
        #expect(JSONValue.int(.min).canonicalString() == "-9223372036854775808")
    }

    @Test("non-finite doubles serialise as null, as JSON.stringify does")
    func nonFinite() {
        #expect(JSONValue.double(.nan).canonicalString() == "null")
        #expect(JSONValue.double(.infinity).canonicalString() == "null")
        #expect(JSONValue.double(-.infinity).canonicalString() == "null")
    }

    // MARK: Strings

    @Test("string escapes follow JSON.stringify")
    func escapes() {
        let value = JSONValue.string("\"\\\u{08}\u{0C}\n\r\t\u{00}\u{01}\u{1F}\u{7F}/\u{2028}\u{2029}é😀")
        let expected = #""\"\\\b\f\n\r\t\u0000\u0001\u001f"# + "\u{7F}/\u{2028}\u{2029}é😀\""
        #expect(value.canonicalString() == expected)
    }

    @Test("every control character below 0x20")
    func controlCharacters() {
        let named: [UInt32: String] = [0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"]
        for code in UInt32(0)..<0x20 {
            guard let scalar = Unicode.Scalar(code) else { continue }
            let hex = String(code, radix: 16)
            let expected = named[code] ?? "\\u00" + (hex.count == 1 ? "0" + hex : hex)
            #expect(JSONValue.string(String(Character(scalar))).canonicalString() == "\"\(expected)\"")
        }
    }

    @Test("no whitespace; nested containers")
    func nested() {
        let value: JSONValue = ["b": [1, 2.5, "x", nil, true, [:], []], "a": ["z": false, "y": nil]]
        #expect(value.canonicalString() == #"{"a":{"y":null,"z":false},"b":[1,2.5,"x",null,true,{},[]]}"#)
    }

    // MARK: Parsing

    @Test("parse keeps booleans apart from 1 and 0")
    func booleansAreNotNumbers() throws {
        let value = try JSONValue.parse("[true, false, 1, 0, 1.0, 0.0, -0]")
        #expect(value == [.bool(true), .bool(false), .int(1), .int(0), .int(1), .int(0), .int(0)])
        #expect(value.canonicalString() == "[true,false,1,0,1,0,0]")
        #expect(value[0]?.boolValue == true)
        #expect(value[0]?.intValue == nil)
        #expect(value[2]?.boolValue == nil)
        #expect(value[2]?.intValue == 1)
    }

    @Test("parse prefers int for integral numbers that fit Int64")
    func numberKinds() throws {
        let value = try JSONValue.parse(
            "[42, -7, 1.5, 1e2, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1e30]"
        )
        #expect(value[0] == .int(42))
        #expect(value[1] == .int(-7))
        #expect(value[2] == .double(1.5))
        #expect(value[3] == .int(100))
        #expect(value[4] == .int(.max))
        #expect(value[5] == .int(.min))
        #expect(value[6] == .double(9_223_372_036_854_775_808))
        #expect(value[7] == .double(1e30))
    }

    @Test("top-level scalars parse")
    func scalars() throws {
        #expect(try JSONValue.parse("null") == .null)
        #expect(try JSONValue.parse("true") == .bool(true))
        #expect(try JSONValue.parse("\"hi\"") == .string("hi"))
        #expect(try JSONValue.parse("3") == .int(3))
    }

    static let invalidDocuments: [String] = [
        "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "1 2", "[1]x",
        "NaN", "Infinity", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "[-]", "1e999", "-1e999",
        "tru", "nul", "True", "'a'", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "\"tab\there\"", "// comment\n1", "\u{FEFF}1",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"c\":1,\"c\":1}}",
        "{\"\u{e9}\":1,\"e\u{301}\":2}",
    ]

    @Test("invalid or non-I-JSON documents are rejected", arguments: invalidDocuments)
    func invalid(text: String) {
        #expect(throws: DecodingError.self) { try JSONValue.parse(text) }
    }

    @Test("invalid UTF-8 is rejected")
    func invalidUTF8() {
        #expect(throws: DecodingError.self) { try JSONValue.parse(Data([0x22, 0xC3, 0x28, 0x22])) }
        #expect(throws: DecodingError.self) { try JSONValue.parse(Data([0x22, 0xED, 0xA0, 0x80, 0x22])) }
    }

    @Test("nesting is limited")
    func depth() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try JSONValue.parse(ok).arrayValue?.count == 1)
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(throws: DecodingError.self) { try JSONValue.parse(deep) }
    }

    @Test("escapes and whitespace are decoded")
    func stringEscapes() throws {
        let value = try JSONValue.parse(" \t\r\n\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\ud83d\\ude00\\u2028\" ")
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\tA\u{e9}\u{1F600}\u{2028}"))
    }

    @Test("the error names the byte offset, not the document")
    func errorMessage() {
        let error = #expect(throws: DecodingError.self) { try JSONValue.parse("[1, 2, x]") }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted")
            return
        }
        #expect(context.debugDescription.contains("byte 7"))
    }

    @Test("parse → canonical → parse round trip")
    func roundTrip() throws {
        let text = #"""
            { "id": "evt_1", "n": [0, -1, 2.75, 1e-9, 12345678901234567],
              "nested": {"ü": "\u00fc", "a\nb": [true, false, null]}, "": "empty key" }
            """#
        let value = try JSONValue.parse(text)
        let canonical = value.canonicalData()
        let reparsed = try JSONValue.parse(canonical)
        #expect(reparsed == value)
        #expect(reparsed.canonicalData() == canonical)
        #expect(value["n"]?[4] == .int(12_345_678_901_234_567))
    }

    @Test("Codable round trip through JSONEncoder")
    func codable() throws {
        let value: JSONValue = ["a": [1, 2.5, "s", nil, true], "b": ["c": -3]]
        let encoded = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoded) == value)
    }

    @Test("accessors")
    func accessors() {
        let value: JSONValue = ["name": "x", "count": 3, "ratio": 0.5, "on": true, "list": [1], "none": nil]
        #expect(value["name"]?.stringValue == "x")
        #expect(value["count"]?.intValue == 3)
        #expect(value["count"]?.doubleValue == 3)
        #expect(value["ratio"]?.doubleValue == 0.5)
        #expect(value["ratio"]?.intValue == nil)
        #expect(value["on"]?.boolValue == true)
        #expect(value["list"]?.arrayValue == [1])
        #expect(value["none"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["list"]?[1] == nil)
        #expect(value.objectValue?.count == 6)
        #expect(JSONValue.string("s")["k"] == nil)
        #expect("\(JSONValue.object(["b": 1, "a": 2]))" == #"{"a":2,"b":1}"#)
    }
}
