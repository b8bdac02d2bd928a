import Testing

@testable import AirlockPolicy

@Suite("Decision JSON")
struct DecisionJSONTests {
    @Test func denyHasNoTTL() {
        let decision = Decision(outcome: .deny, ttlSeconds: 99, rules: ["f"], notify: ["a"], errors: [.init(rule: "f", message: "m \"q\"")])
        #expect(decision.json == #"{"decision": "deny", "rules": ["f"], "approvals": [], "notify": ["a"], "errors": [{"rule": "f", "message": "m \"q\""}]}"#)
        #expect(Decision.defaultDeny.json == #"{"decision": "deny", "rules": [], "approvals": [], "notify": [], "errors": []}"#)
    }

    @Test func permitAndPending() {
        #expect(Decision(outcome: .permit, ttlSeconds: 1_800, rules: ["sre-prod-readonly"]).json
            == #"{"decision": "permit", "ttl_seconds": 1800, "rules": ["sre-prod-readonly"], "approvals": [], "notify": [], "errors": []}"#)
        let pending = Decision(outcome: .pendingApproval, ttlSeconds: 60, rules: ["r"],
            approvals: [.init(rule: "r", requires: [.init(group: "g", count: 2)])])
        #expect(pending.json
            == #"{"decision": "pending_approval", "ttl_seconds": 60, "rules": ["r"], "approvals": [{"rule": "r", "requires": [{"group": "g", "count": 2}]}], "notify": [], "errors": []}"#)
    }

    @Test func stringsAreEscaped() {
        #expect(JSONWriter.string("a\"b\\c\n\u{01}é") == #""a\"b\\c\n\u0001é""#)
        #expect(InputError(message: "bad `x`").json == #"{"error": "bad `x`"}"#)
    }
}
