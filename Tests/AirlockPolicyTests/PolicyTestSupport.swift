import Testing

@testable import AirlockPolicy

/// Loads a one-file policy set, recording an issue with the rendered diagnostics if it fails.
func loadPolicies(_ text: String, file: String = "test.airlock") throws -> PolicySet {
    switch PolicySet.load(sources: [SourceFile(name: file, text: text)]) {
    case .success(let set):
        return set
    case .failure(let error):
        Issue.record("unexpected load failure:\n\(error)")
        throw error
    }
}

/// The diagnostics of loading `text` (empty when it loads).
func loadDiagnostics(_ text: String, file: String = "test.airlock") -> [Diagnostic] {
    switch PolicySet.load(sources: [SourceFile(name: file, text: text)]) {
    case .success: []
    case .failure(let error): error.diagnostics
    }
}

/// A complete input for the built-in attributes: an SRE in prod, low risk, from the corporate network.
func baseInput(_ changes: (inout EvaluationInput) -> Void = { _ in }) -> EvaluationInput {
    var input = EvaluationInput(
        principal: [
            "id": .string("alice"), "kind": .string("user"), "groups": .set(["sre"]),
            "mfa_age": .duration(300), "on_call": .bool(false),
        ],
        resource: [
            "id": .string("orders-db"), "kind": .string("postgres"), "env": .string("prod"),
            "owner": .string("payments"), "sensitivity": .int(5), "tags": .set(["pci"]),
        ],
        request: [
            "role": .string("readonly"), "ttl": .duration(1_800), "reason": .string("INC-42 debugging"),
            "source_ip": .ip(.v4(0x0A01_0203)), "break_glass": .bool(false), "hour": .int(10),
            "weekday": .string("tue"),
        ],
        risk: ["score": .int(10), "signals": .set([])]
    )
    changes(&input)
    return input
}

/// Evaluates a single boolean expression against `input` through a one-rule permit set.
func holds(_ expression: String, _ input: EvaluationInput = baseInput(), declarations: String = "") throws -> Bool {
    let set = try loadPolicies("\(declarations)\npermit \"p\" when \(expression);")
    let decision = set.evaluate(input)
    #expect(decision.errors.isEmpty || decision.outcome == .deny)
    return decision.outcome == .permit
}

let examplePolicy = #"""
# Site reliability engineers: read-only production access, automatically at low risk.
permit "sre-prod-readonly"
  when "sre" in principal.groups
   and resource.env == "prod"
   and request.role == "readonly"
   and risk.score < 30
   and principal has mfa_age and principal.mfa_age <= 15m
  ttl <= 1h;

require_approval "prod-write"
  when principal.groups contains_any ["backend", "dba"]
   and resource.env == "prod" and request.role == "readwrite"
  approvers group("db-owners") count 2, group("security") count 1
  ttl <= 30m
  notify "security";

forbid "high-risk"
  when risk.score >= 70
  notify "security";

forbid "outside-corporate-network"
  unless request.source_ip in cidr("10.0.0.0/8") or request.source_ip in cidr("192.168.0.0/16");

permit "break-glass"
  when request.break_glass and principal.on_call and request.reason like "INC-*"
  ttl <= 1h
  notify "security", "break-glass";
"""#
