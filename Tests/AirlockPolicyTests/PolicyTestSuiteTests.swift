import Foundation
import Testing

@testable import AirlockPolicy

/// The policy test-file format: strict reading, defaults, expectations and readable failures.
@Suite("Policy test files")
struct PolicyTestSuiteTests {
    static let policy = #"""
        permit "sre-read" when "sre" in principal.groups and principal has mfa_age and principal.mfa_age <= 15m ttl <= 1h;
        require_approval "write" when request.role == "readwrite" approvers group("db-owners") count 2, group("security") ttl <= 30m notify "security";
        forbid "high-risk" when risk.score >= 70 notify "security";
        """#

    static let defaults = #"""
        "defaults": {"principal": {"groups": ["sre"], "mfa_age": 60}, "request": {"role": "readonly", "ttl": 1800}, "risk": {"score": 10}}
        """#

    static func run(_ text: String, file: String = "t.json") throws -> PolicyTestReport {
        let set = try loadPolicies(policy)
        return PolicyTestSuite(cases: try PolicyTestSuite.parse(text, file: file)).run(against: set)
    }

    static func parseError(_ text: String, file: String = "t.json") -> PolicyTestError? {
        do {
            _ = try PolicyTestSuite.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func passingCasesAndSummary() throws {
        let report = try Self.run(#"""
            {\#(Self.defaults), "cases": [
              {"name": "read", "input": {}, "expect": {"decision": "permit", "ttl_seconds": 1800, "rules": ["sre-read"],
               "approvals": [], "notify": [], "errors": []}},
              {"name": "write", "input": {"request": {"role": "readwrite", "ttl": 7200}}, "expect": {"decision": "permit"}},
              {"name": "risky", "input": {"risk": {"score": 90}}, "expect": {"decision": "deny", "ttl_seconds": null, "notify": ["security"]}}
            ]}
            """#)
        #expect(report.results.map(\.passed) == [true, true, true])
        #expect(report.summaryLine == "3 passed, 0 failed")
        #expect(report.description == "3 passed, 0 failed")
        #expect(report.results[0].decision?.outcome == .permit)
    }

    @Test func failingCaseHasReadableMismatches() throws {
        let report = try Self.run(#"""
            {\#(Self.defaults), "cases": [
              {"name": "wrong", "input": {"request": {"role": "readwrite", "ttl": 7200}, "principal": {"groups": []}},
               "expect": {"decision": "permit", "ttl_seconds": 3600, "rules": ["write", "extra"],
                          "approvals": [{"rule": "write", "requires": [{"group": "security", "count": 1}, {"group": "db-owners", "count": 2}]}],
                          "notify": [], "errors": [{"rule": "high-risk"}]}}
            ]}
            """#, file: "tests/x.json")
        let result = try #require(report.results.first)
        #expect(!result.passed)
        #expect(result.file == "tests/x.json")
        #expect(result.mismatches == [
            "expected decision permit, got pending_approval",
            "expected ttl_seconds 3600, got 1800",
            #"expected rules ["extra", "write"], got ["write"] (missing `extra`)"#,
            #"expected approvals [{"rule": "write", "requires": [{"group": "security", "count": 1}, {"group": "db-owners", "count": 2}]}], "#
                + #"got [{"rule": "write", "requires": [{"group": "db-owners", "count": 2}, {"group": "security", "count": 1}]}]"#,
            #"expected notify [], got ["security"] (unexpected `security`)"#,
            #"expected errors in rules ["high-risk"], got [] (missing `high-risk`)"#,
            "`extra` is not a rule of the policy set",
        ])
        #expect(report.summaryLine == "0 passed, 1 failed")
        #expect(report.description.hasPrefix("FAIL tests/x.json: wrong\n  - expected decision permit, got pending_approval\n"))
        #expect(report.description.contains(#"  got: {"decision": "pending_approval", "ttl_seconds": 1800"#))
    }

    @Test func ttlAndErrorMessageMismatches() throws {
        let report = try Self.run(#"""
            {"cases": [
              {"name": "ttl", "input": {"principal": {"groups": ["sre"], "mfa_age": 1}, "request": {"ttl": 60}, "risk": {"score": 1}},
               "expect": {"decision": "permit", "ttl_seconds": null}},
              {"name": "deny", "input": {"principal": {"groups": []}, "risk": {"score": 1}}, "expect": {"decision": "deny", "ttl_seconds": 60}},
              {"name": "message", "input": {"principal": {"groups": []}, "request": {"role": "readonly"}},
               "expect": {"decision": "deny", "errors": [{"rule": "high-risk", "message": "something else"}], "rules": ["high-rsik"]}}
            ]}
            """#)
        #expect(report.results.map(\.mismatches) == [
            ["expected no ttl_seconds, got 60"],
            ["expected ttl_seconds 60, got none"],
            [
                #"expected rules ["high-rsik"], got ["high-risk"] (missing `high-rsik`; unexpected `high-risk`)"#,
                #"expected error of rule `high-risk` to be "something else", got "attribute `risk.score` is absent""#,
                "`high-rsik` is not a rule of the policy set; did you mean `high-risk`?",
            ],
        ])
    }

    @Test func omittedExpectationsAreNotChecked() throws {
        let report = try Self.run(#"""
            {\#(Self.defaults), "cases": [{"name": "only the decision", "input": {"risk": {"score": 99}}, "expect": {"decision": "deny"}}]}
            """#)
        #expect(report.results.first?.passed == true)
        #expect(report.results.first?.decision?.rules == ["high-risk"])
    }

    @Test func defaultsMergePerEntityAndAttribute() throws {
        let cases = try PolicyTestSuite.parse(#"""
            {\#(Self.defaults), "cases": [
              {"name": "override", "input": {"principal": {"mfa_age": null, "id": "bob"}, "risk": null, "resource": {"env": "prod"}},
               "expect": {"decision": "deny"}},
              {"name": "as is", "input": {}, "expect": {"decision": "permit"}}
            ]}
            """#, file: "t.json")
        #expect(cases.map(\.inputJSON) == [
            #"{"principal": {"groups": ["sre"], "mfa_age": null, "id": "bob"}, "resource": {"env": "prod"}, "#
                + #""request": {"role": "readonly", "ttl": 1800}, "risk": null}"#,
            #"{"principal": {"groups": ["sre"], "mfa_age": 60}, "request": {"role": "readonly", "ttl": 1800}, "risk": {"score": 10}}"#,
        ])
        let report = PolicyTestSuite(cases: cases).run(against: try loadPolicies(Self.policy))
        #expect(report.results.map(\.passed) == [true, true])
        // With `risk` removed, the forbid fails closed.
        #expect(report.results[0].decision?.rules == ["high-risk"])
    }

    @Test(arguments: [
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decison": "deny"}}]}"#,
            "t.json: case `a`: unknown key `expect.decison`; did you mean `decision`? "
                + "(expected `decision`, `ttl_seconds`, `rules`, `approvals`, `notify`, `errors`)"),
        (#"{"cases": [{"name": "a", "input": {"principle": {}}, "expect": {"decision": "deny"}}]}"#,
            "t.json: case `a`: unknown key `input.principle`; did you mean `principal`? "
                + "(expected `principal`, `resource`, `request`, `risk`)"),
        (#"{"case": []}"#, "t.json: unknown key `case`; did you mean `cases`? (expected `description`, `defaults`, `cases`)"),
        (#"{"cases": [{"name": "a", "input": {}, "expected": {"decision": "deny"}}]}"#,
            "t.json: case `a`: unknown key `expected`; did you mean `expect`? (expected `name`, `description`, `input`, `expect`)"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decision": "deny", "approvals": [{"rule": "w", "requires": [{"group": "g", "cnt": 1}]}]}}]}"#,
            "t.json: case `a`: unknown key `expect.approvals[0].requires[0].cnt` (expected `group`, `user`, `count`, `services`)"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decision": "allow"}}]}"#,
            "t.json: case `a`: `expect.decision` must be `permit`, `pending_approval` or `deny`, got `allow`"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decision": "deny", "ttl_seconds": 1.5}}]}"#,
            "t.json: case `a`: `expect.ttl_seconds` must be a whole number of seconds or null, got `1.5`"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decision": "deny", "rules": "high-risk"}}]}"#,
            "t.json: case `a`: `expect.rules` must be an array, got a string"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {}}]}"#, "t.json: case `a`: missing key `expect.decision`"),
        (#"{"cases": [{"input": {}, "expect": {"decision": "deny"}}]}"#, "t.json: case #1: missing key `name`"),
        (#"{"cases": [{"name": "a", "input": {"risk": 3}, "expect": {"decision": "deny"}}]}"#,
            "t.json: case `a`: `input.risk` must be an object or null, got an integer"),
        (#"{"cases": [{"name": "a", "input": {}, "expect": {"decision": "deny"}}, {"name": "a", "input": {}, "expect": {"decision": "deny"}}]}"#,
            "t.json: case `a`: duplicate case name in this file"),
        (#"{"cases": []}"#, "t.json: `cases` is empty; a test file needs at least one case"),
        (#"[]"#, "t.json: the test file must be an object, got an array"),
        ("{\"cases\": [\n  {\"name\": \"a\",, }\n]}", "t.json: invalid json at line 2, column 16: expected a string key"),
        (#"{"cases": [], "cases": []}"#, #"t.json: invalid json at line 1, column 22: duplicate key "cases""#),
    ])
    func malformedFilesAreErrors(text: String, expected: String) {
        #expect(Self.parseError(text)?.description == expected)
    }

    @Test func errorNamesFileAndCase() throws {
        let error = try #require(Self.parseError(#"{"cases": [{"name": "sre reads", "input": {}, "expect": {"decison": "deny"}}]}"#,
            file: "Policies/tests/production.json"))
        #expect(error.file == "Policies/tests/production.json")
        #expect(error.caseName == "sre reads")
        #expect(error.caseNumber == 1)
    }

    @Test func inputProblemsFailTheCase() throws {
        let report = try Self.run(#"""
            {"cases": [
              {"name": "typo", "input": {"principal": {"mfa_agee": 60}}, "expect": {"decision": "deny"}},
              {"name": "type", "input": {"risk": {"score": "low"}}, "expect": {"decision": "deny"}}
            ]}
            """#)
        #expect(report.results.map(\.mismatches) == [
            ["input: unknown attribute `principal.mfa_agee`; did you mean `principal.mfa_age`?"],
            ["input: `risk.score` must be an integer, got a string"],
        ])
        #expect(report.results.allSatisfy { $0.decision == nil })
        #expect(report.summaryLine == "0 passed, 2 failed")
    }

    @Test func loadsJSONFilesOfADirectoryInNameOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("nested.json"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = #"{"cases": [{"name": "NAME", "input": {}, "expect": {"decision": "deny"}}]}"#
        try file.replacingOccurrences(of: "NAME", with: "second").write(to: directory.appendingPathComponent("b.json"), atomically: true, encoding: .utf8)
        try file.replacingOccurrences(of: "NAME", with: "first").write(to: directory.appendingPathComponent("a.json"), atomically: true, encoding: .utf8)
        try "not json".write(to: directory.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let suite = try PolicyTestSuite.load(directory: directory)
        #expect(suite.cases.map(\.name) == ["first", "second"])
        #expect(suite.cases.map { URL(fileURLWithPath: $0.file).lastPathComponent } == ["a.json", "b.json"])
        #expect(suite.run(against: .empty).summaryLine == "2 passed, 0 failed")

        try "{".write(to: directory.appendingPathComponent("c.json"), atomically: true, encoding: .utf8)
        #expect(throws: PolicyTestError.self) { try PolicyTestSuite.load(directory: directory) }
        do {
            _ = try PolicyTestSuite.load(directory: directory)
        } catch {
            #expect(URL(fileURLWithPath: error.file).lastPathComponent == "c.json")
            #expect(error.message == "invalid json at line 1, column 2: expected a string key")
        }
    }

    @Test func directoryWithoutTestFilesIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: PolicyTestError.self) { try PolicyTestSuite.load(directory: directory) }
        #expect(throws: PolicyTestError.self) { try PolicyTestSuite.load(directory: directory.appendingPathComponent("missing")) }
    }
}
