import Testing

@testable import AirlockPolicy

@Suite("Evaluation input decoding")
struct InputDecodingTests {
    private let schema: Schema = {
        var schema = Schema.builtIn
        schema.declare(AttributePath(.resource, "pci"), as: AttributeType(.bool, optional: true))
        return schema
    }()

    private func decode(_ line: String) throws(InputError) -> EvaluationInput {
        try EvaluationInput.decode(jsonLine: line, schema: schema)
    }

    @Test func typedValues() throws {
        let input = try decode(#"""
            {"principal": {"groups": ["a", "b", "a"], "mfa_age": 120, "on_call": true, "unknown": {"x": 1}},
             "request": {"source_ip": "2001:db8::1", "hour": -1, "reason": "r\u00e9\n"},
             "resource": {"pci": false, "sensitivity": 9223372036854775807}, "other": 5}
            """#)
        #expect(input.attributes == [
            AttributePath(.principal, "groups"): .set(["a", "b"]),
            AttributePath(.principal, "mfa_age"): .duration(120),
            AttributePath(.principal, "on_call"): .bool(true),
            AttributePath(.request, "source_ip"): .ip(.v6(high: 0x2001_0db8_0000_0000, low: 1)),
            AttributePath(.request, "hour"): .int(-1),
            AttributePath(.request, "reason"): .string("ré\n"),
            AttributePath(.resource, "pci"): .bool(false),
            AttributePath(.resource, "sensitivity"): .int(.max),
        ])
    }

    @Test func nullAndMissingEntitiesAreAbsent() throws {
        #expect(try decode(#"{"principal": {"mfa_age": null, "id": null}, "risk": null}"#).attributes.isEmpty)
        #expect(try decode("{}").attributes.isEmpty)
        #expect(try decode(" {\"request\": {}} ").attributes.isEmpty)
    }

    @Test(arguments: [
        ("", "invalid json at byte 0: unexpected end of input"),
        ("[1]", "expected a json object, got an array"),
        ("null", "expected a json object, got null"),
        (#"{"risk": {"score": 1},}"#, "invalid json at byte 22: expected a string key"),
        (#"{"risk": {"score": 1}} x"#, "invalid json at byte 23: unexpected content after the json value"),
        (#"{"risk": {"score": 1, "score": 2}}"#, "invalid json at byte 29: duplicate key \"score\""),
        (#"{"risk": 5}"#, "`risk` must be an object, got an integer"),
        (#"{"risk": {"score": "high"}}"#, "`risk.score` must be an integer, got a string"),
        (#"{"risk": {"score": 1.5}}"#, "`risk.score` must be an integer, got a number"),
        (#"{"risk": {"score": true}}"#, "`risk.score` must be an integer, got a boolean"),
        (#"{"risk": {"score": 99999999999999999999}}"#, "`risk.score` must be an integer, got a number"),
        (#"{"principal": {"on_call": 1}}"#, "`principal.on_call` must be a boolean, got an integer"),
        (#"{"principal": {"mfa_age": "15m"}}"#, "`principal.mfa_age` must be a whole number of seconds, got a string"),
        (#"{"principal": {"mfa_age": -1}}"#, "`principal.mfa_age` must not be negative, got -1"),
        (#"{"principal": {"groups": "sre"}}"#, "`principal.groups` must be an array of strings, got a string"),
        (#"{"principal": {"groups": ["sre", 1]}}"#, "`principal.groups` must be an array of strings, but it holds an integer"),
        (#"{"request": {"source_ip": "10.0.0.256"}}"#, "`request.source_ip` is not a valid ip address: `10.0.0.256`"),
        (#"{"request": {"source_ip": 167772161}}"#, "`request.source_ip` must be an ip address string, got an integer"),
        (#"{"resource": {"pci": "yes"}}"#, "`resource.pci` must be a boolean, got a string"),
    ])
    func malformedLines(line: String, message: String) {
        #expect(throws: InputError(message: message)) { try decode(line) }
    }
}
