import Foundation
import Testing

@testable import AirlockPolicy

@Suite("The example policy of the language reference")
struct ExamplePolicyTests {
    private static let base = #"""
        {"principal": {"id": "alice", "kind": "user", "groups": ["sre"], "mfa_age": 300, "on_call": false},
         "resource": {"id": "orders-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 5, "tags": []},
         "request": {"role": "readonly", "ttl": 7200, "reason": "looking", "source_ip": "10.1.2.3", "break_glass": false,
                     "hour": 10, "weekday": "tue"},
         "risk": {"score": 10, "signals": []}}
        """#.replacingOccurrences(of: "\n", with: " ")

    private static func line(_ replacements: [(String, String)]) -> String {
        replacements.reduce(base) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    @Test(arguments: [
        ([], #"{"decision": "permit", "ttl_seconds": 3600, "rules": ["sre-prod-readonly"], "approvals": [], "notify": [], "errors": []}"#),
        ([(#""mfa_age": 300"#, #""mfa_age": 7200"#)],
            #"{"decision": "deny", "rules": [], "approvals": [], "notify": [], "errors": []}"#),
        ([(#""mfa_age": 300"#, #""mfa_age": null"#)],
            #"{"decision": "deny", "rules": [], "approvals": [], "notify": [], "errors": []}"#),
        ([(#""score": 10"#, #""score": 80"#)],
            #"{"decision": "deny", "rules": ["high-risk"], "approvals": [], "notify": ["security"], "errors": []}"#),
        ([(#""10.1.2.3""#, #""8.8.8.8""#), (#""score": 10"#, #""score": 75"#)],
            #"{"decision": "deny", "rules": ["high-risk", "outside-corporate-network"], "approvals": [], "notify": ["security"], "errors": []}"#),
        ([(#""10.1.2.3""#, #""192.168.4.4""#), (#"["sre"]"#, #"["backend"]"#), (#""readonly""#, #""readwrite""#)],
            #"{"decision": "pending_approval", "ttl_seconds": 1800, "rules": ["prod-write"], "approvals": [{"rule": "prod-write", "requires": [{"group": "db-owners", "count": 2}, {"group": "security", "count": 1}]}], "notify": ["security"], "errors": []}"#),
        ([(#""break_glass": false"#, #""break_glass": true"#), (#""on_call": false"#, #""on_call": true"#),
          (#""looking""#, #""INC-7 outage""#), (#""score": 10"#, #""score": 50"#)],
            #"{"decision": "permit", "ttl_seconds": 3600, "rules": ["break-glass"], "approvals": [], "notify": ["break-glass", "security"], "errors": []}"#),
        ([(#""source_ip": "10.1.2.3", "#, "")],
            #"{"decision": "deny", "rules": ["outside-corporate-network"], "approvals": [], "notify": [], "errors": [{"rule": "outside-corporate-network", "message": "attribute `request.source_ip` is absent"}]}"#),
        ([(#""source_ip": "10.1.2.3""#, #""source_ip": "fd00::1""#)],
            #"{"decision": "deny", "rules": ["outside-corporate-network"], "approvals": [], "notify": [], "errors": []}"#),
    ])
    func decisions(replacements: [(String, String)], expected: String) throws {
        let set = try loadPolicies(examplePolicy)
        let input = try EvaluationInput.decode(jsonLine: Self.line(replacements), schema: set.schema)
        #expect(set.evaluate(input).json == expected)
    }
}
