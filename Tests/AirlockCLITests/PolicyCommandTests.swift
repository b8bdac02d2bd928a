import Foundation
import Testing

/// `airlock policy check | fmt | test | eval | explain | bench` run as a user would, against policy folders
/// written to a temporary directory.
@Suite("airlock policy")
struct PolicyCommandTests {
    static let policy = #"""
        # Site reliability engineers: read-only production access.
        permit "sre-prod-readonly"
          when "sre" in principal.groups and resource.env == "prod"
           and principal has mfa_age and principal.mfa_age <= 15m
          ttl <= 1h;

        forbid "high-risk" when risk.score >= 70 notify "security";
        """#

    static let schema = "attribute principal.department: String?\n"

    /// An input that the SRE rule permits; `mfa_age` in seconds.
    static func input(mfaAge: Int = 300, score: Int = 10) -> String {
        #"{"principal": {"id": "alice", "groups": ["sre"], "mfa_age": \#(mfaAge)}, "resource": {"env": "prod"}, "#
            + #""request": {"ttl": 7200}, "risk": {"score": \#(score)}}"#
    }

    /// A fresh directory holding `files` (relative path → text); removed by the caller.
    static func directory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-policy-\(UUID().uuidString)")
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func read(_ url: URL, _ name: String) throws -> String {
        try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
    }

    // MARK: check

    @Test func checkPassesACleanDirectory() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "schema.airlock": Self.schema, "tests/x.airlock": "junk"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "check", dir.path])
        #expect(result.status == 0, "stderr: \(result.errors)")
        #expect(result.output == "2 rules in 2 files: ok\n")
    }

    @Test func checkPrintsEveryDiagnosticWithACaret() async throws {
        let dir = try Self.directory([
            "a.airlock": "permit \"x\" when principal.grops contains \"a\";\n",
            "b.airlock": "forbid \"y\"\n  when risk.score = 3;\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "check", dir.path])
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        let lines = result.errors.components(separatedBy: "\n")
        let first = try #require(lines.firstIndex { $0.hasSuffix("a.airlock:1:17: error: unknown attribute `principal.grops`; did you mean `principal.groups`?") })
        #expect(lines[first + 1] == "permit \"x\" when principal.grops contains \"a\";")
        #expect(lines[first + 2] == "                ^")
        let second = try #require(lines.firstIndex { $0.hasSuffix("b.airlock:2:19: error: unexpected `=`; did you mean `==`?") })
        #expect(lines[second + 1] == "  when risk.score = 3;")
        #expect(lines[second + 2] == "                  ^")
        #expect(result.errors.contains("2 errors"))
    }

    @Test func checkFailsOnAMissingDirectory() async throws {
        let result = try await AirlockBinary.run(["policy", "check", "/nonexistent/airlock-policies"])
        #expect(result.status == 1)
        #expect(result.errors.contains("cannot read policy directory"))
    }

    // MARK: fmt

    @Test func fmtCheckListsFilesThatWouldChangeAndChangesNothing() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "schema.airlock": Self.schema])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "fmt", "--check", dir.path])
        #expect(result.status == 1)
        #expect(result.output == dir.appendingPathComponent("main.airlock").path + "\n")
        #expect(try Self.read(dir, "main.airlock") == Self.policy)
    }

    @Test func fmtRewritesInPlaceAndIsIdempotent() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy])
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("main.airlock").path
        let first = try await AirlockBinary.run(["policy", "fmt", file])
        #expect(first.status == 0, "stderr: \(first.errors)")
        #expect(first.output == file + "\n")
        let expected = #"""
            # Site reliability engineers: read-only production access.
            permit "sre-prod-readonly"
              when "sre" in principal.groups
               and resource.env == "prod"
               and principal has mfa_age
               and principal.mfa_age <= 15m
              ttl <= 1h;

            forbid "high-risk"
              when risk.score >= 70
              notify "security";

            """#
        #expect(try Self.read(dir, "main.airlock") == expected)
        let second = try await AirlockBinary.run(["policy", "fmt", file])
        #expect(second.status == 0)
        #expect(second.output.isEmpty)
        #expect(try Self.read(dir, "main.airlock") == expected)
        let check = try await AirlockBinary.run(["policy", "fmt", "--check", dir.path])
        #expect(check.status == 0)
        #expect(check.output.isEmpty)
    }

    @Test func fmtLeavesABrokenFileUntouchedAndFormatsTheOthers() async throws {
        let broken = "permit \"x\"   when risk.score < ;\n"
        let dir = try Self.directory(["broken.airlock": broken, "good.airlock": "permit \"ok\"   ;"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "fmt", dir.path])
        #expect(result.status == 1)
        #expect(result.errors.contains("broken.airlock:1:"))
        #expect(result.errors.contains(broken.trimmingCharacters(in: .newlines) + "\n"))
        #expect(result.errors.contains("^"))
        #expect(try Self.read(dir, "broken.airlock") == broken)
        #expect(try Self.read(dir, "good.airlock") == "permit \"ok\";\n")
    }

    // MARK: eval

    @Test func evalAnswersEveryLineInOrder() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy])
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = [Self.input(), "not json", "", #"{"risk": {"score": "high"}}"#, Self.input(score: 90), "[1]"]
        let inputs = try Self.directory(["in.jsonl": lines.joined(separator: "\n") + "\n"])
        defer { try? FileManager.default.removeItem(at: inputs) }
        let result = try await AirlockBinary.run([
            "policy", "eval", "--policies", dir.path, "--input", inputs.appendingPathComponent("in.jsonl").path,
        ])
        #expect(result.status == 0, "stderr: \(result.errors)")
        let output = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(output.count == 7, "\(result.output)")
        #expect(output[0] == #"{"decision": "permit", "ttl_seconds": 3600, "rules": ["sre-prod-readonly"], "approvals": [], "notify": [], "errors": []}"#)
        #expect(output[1].hasPrefix(#"{"error": "line 2: "#))
        #expect(output[2] == #"{"error": "line 3: blank line; expected a json object"}"#)
        #expect(output[3] == #"{"error": "line 4: `risk.score` must be an integer, got a string"}"#)
        #expect(output[4] == #"{"decision": "deny", "rules": ["high-risk"], "approvals": [], "notify": ["security"], "errors": []}"#)
        #expect(output[5].hasPrefix(#"{"error": "line 6: "#))
        #expect(output[6].isEmpty)
    }

    @Test func evalExitsOneWhenThePoliciesDoNotLoad() async throws {
        let dir = try Self.directory(["main.airlock": "permit \"x\" when risk.scor < 3;"])
        let inputs = try Self.directory(["in.jsonl": Self.input() + "\n"])
        defer {
            try? FileManager.default.removeItem(at: dir)
            try? FileManager.default.removeItem(at: inputs)
        }
        let result = try await AirlockBinary.run([
            "policy", "eval", "--policies", dir.path, "--input", inputs.appendingPathComponent("in.jsonl").path,
        ])
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        #expect(result.errors.contains("did you mean `risk.score`?"))
    }

    // MARK: explain

    @Test func explainShowsTheFailedConditionItsLineAndTheValueSeen() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy])
        let inputs = try Self.directory(["in.json": Self.input(mfaAge: 7_200)])
        defer {
            try? FileManager.default.removeItem(at: dir)
            try? FileManager.default.removeItem(at: inputs)
        }
        let arguments = ["policy", "explain", "--policies", dir.path, "--input", inputs.appendingPathComponent("in.json").path]
        let text = try await AirlockBinary.run(arguments)
        #expect(text.status == 0, "stderr: \(text.errors)")
        #expect(text.output.hasPrefix(#"decision: {"decision": "deny", "rules": []"#))
        #expect(text.output.contains(#"permit "sre-prod-readonly" ("# + dir.path + "/main.airlock:2): not applied"))
        #expect(text.output.contains("needs `principal.mfa_age <= 15m`; yours is 2h"))
        #expect(text.output.contains(dir.path + "/main.airlock:4:34"))
        #expect(text.output.contains("   and principal has mfa_age and principal.mfa_age <= 15m"))
        #expect(text.output.contains(#"forbid "high-risk" ("# + dir.path + "/main.airlock:7): not applied"))
        #expect(text.output.contains("needs `risk.score >= 70`; yours is 10"))

        let json = try await AirlockBinary.run(arguments + ["--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let rules = try #require(object["rules"] as? [[String: Any]])
        #expect(rules.map { $0["rule"] as? String } == ["sre-prod-readonly", "high-risk"])
        let failure = try #require(rules[0]["failure"] as? [String: Any])
        #expect(failure["expression"] as? String == "principal.mfa_age <= 15m")
        #expect(failure["location"] as? String == dir.path + "/main.airlock:4:34")
        let observed = try #require(failure["observed"] as? [[String: Any]])
        #expect(observed.first?["attribute"] as? String == "principal.mfa_age")
        #expect(observed.first?["value"] as? Int == 7_200)
        #expect((object["decision"] as? [String: Any])?["decision"] as? String == "deny")
    }

    /// Issue 12: an approval rule whose approver attribute is empty failed in its `approvers` clause, and says so.
    @Test func explainNamesTheApproversClauseWhenAnApproverCannotBeRead() async throws {
        let policy = """
            require_approval "owner-and-manager"
              when request.role == "readwrite" and principal has manager
              approvers user(principal.manager), group(resource.owner) count 1;
            """
        let input = #"{"principal": {"id": "bob", "manager": "erin"}, "resource": {"owner": ""}, "request": {"role": "readwrite"}}"#
        let dir = try Self.directory(["main.airlock": policy, "in.json": input])
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["policy", "explain", "--policies", dir.path, "--input", dir.appendingPathComponent("in.json").path]
        let text = try await AirlockBinary.run(arguments)
        #expect(text.status == 0, "stderr: \(text.errors)")
        #expect(text.output.contains("error: `resource.owner` is empty: no group to name, reading `resource.owner` in `approvers`"),
                "\(text.output)")
        #expect(text.output.contains(dir.path + "/main.airlock:3:44"), "\(text.output)")
        let json = try await AirlockBinary.run(arguments + ["--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let failure = try #require((object["rules"] as? [[String: Any]])?.first?["failure"] as? [String: Any], "\(json.output)")
        #expect(failure["clause"] as? String == "approvers", "\(json.output)")
        #expect(failure["expression"] as? String == "resource.owner")
    }

    @Test func explainRejectsAMalformedInput() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "in.json": #"{"risk": {"score": true}}"#])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run([
            "policy", "explain", "--policies", dir.path, "--input", dir.appendingPathComponent("in.json").path,
        ])
        #expect(result.status == 1)
        #expect(result.errors.contains("`risk.score` must be an integer"))
    }

    // MARK: test

    static func testFile(expectedTTL: Int) -> String {
        """
        {"defaults": {"principal": {"id": "alice", "groups": ["sre"], "mfa_age": 300}, "resource": {"env": "prod"},
                      "request": {"ttl": 7200}, "risk": {"score": 10}},
         "cases": [
           {"name": "sre reads prod", "input": {}, "expect": {"decision": "permit", "ttl_seconds": \(expectedTTL), "rules": ["sre-prod-readonly"]}},
           {"name": "high risk is denied", "input": {"risk": {"score": 80}}, "expect": {"decision": "deny", "rules": ["high-risk"]}}
         ]}
        """
    }

    @Test func testPrintsTheSummaryAndPassesWhenEveryCasePasses() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "tests/prod.json": Self.testFile(expectedTTL: 3_600)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "test", dir.path])
        #expect(result.status == 0, "stderr: \(result.errors)")
        #expect(result.output == "2 passed, 0 failed\n")
    }

    @Test func testPrintsFailingCasesWithTheirMismatchesAndExitsOne() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "tests/prod.json": Self.testFile(expectedTTL: 1_800)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run(["policy", "test", dir.path])
        #expect(result.status == 1)
        #expect(result.output.contains("sre reads prod"))
        #expect(result.output.contains("1800"))
        #expect(result.output.hasSuffix("\n1 passed, 1 failed\n"))
    }

    @Test func testExitsOneWhenThePoliciesOrTheTestsDoNotLoad() async throws {
        let noTests = try Self.directory(["main.airlock": Self.policy])
        let broken = try Self.directory(["main.airlock": "permit", "tests/prod.json": Self.testFile(expectedTTL: 3_600)])
        defer {
            try? FileManager.default.removeItem(at: noTests)
            try? FileManager.default.removeItem(at: broken)
        }
        let missing = try await AirlockBinary.run(["policy", "test", noTests.path])
        #expect(missing.status == 1)
        #expect(!missing.errors.isEmpty)
        let unloadable = try await AirlockBinary.run(["policy", "test", broken.path])
        #expect(unloadable.status == 1)
        #expect(unloadable.errors.contains("main.airlock:1:"))
    }

    // MARK: bench

    @Test func benchEndsWithTheSummaryLine() async throws {
        let dir = try Self.directory(["main.airlock": Self.policy, "in.jsonl": Self.input() + "\n" + Self.input(score: 90) + "\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await AirlockBinary.run([
            "policy", "bench", "--policies", dir.path, "--input", dir.appendingPathComponent("in.jsonl").path,
            "--seconds", "0.05",
        ])
        #expect(result.status == 0, "stderr: \(result.errors)")
        let last = try #require(result.output.split(separator: "\n").last.map(String.init))
        #expect(last.wholeMatch(of: /median_ns=\d+ p99_ns=\d+ decisions_per_s=\d+ load_ms=\d+/) != nil, "\(result.output)")
    }
}
