import Foundation
import Testing

@testable import AirlockPolicy

/// The example policies shipped in `Policies/` load cleanly and pass their own test files.
@Suite("The example policies in Policies/")
struct ExamplePoliciesTests {
    /// `Policies/` at the repository root, found from this file (symlinks resolved, so scratch packages work too).
    static let policyDirectory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Policies", isDirectory: true)

    static func loadPolicies() throws -> PolicySet {
        switch PolicySet.load(directory: policyDirectory) {
        case .success(let set):
            return set
        case .failure(let error):
            Issue.record("Policies/ does not load:\n\(error)")
            throw error
        }
    }

    @Test func loadsWithoutDiagnostics() throws {
        let set = try Self.loadPolicies()
        #expect(set.rules.count >= 10)
        #expect(set.files.count >= 5)
        #expect(set.schema[AttributePath(.resource, "pci")] == AttributeType(.bool, optional: true))
    }

    @Test func everyRuleHasAComment() throws {
        let set = try Self.loadPolicies()
        for rule in set.rules {
            guard let file = set.files.first(where: { $0.rules.contains(rule) }) else { continue }
            let above = file.source.line(rule.location.line - 1).trimmingCharacters(in: .whitespaces)
            #expect(above.hasPrefix("#"), "rule `\(rule.id)` has no comment saying why")
        }
    }

    @Test func suitePasses() throws {
        let set = try Self.loadPolicies()
        let suite = try PolicyTestSuite.load(directory: PolicyTestSuite.testDirectory(ofPolicies: Self.policyDirectory))
        let report = suite.run(against: set)
        #expect(report.results.count >= 40)
        #expect(report.allPassed, "\(report)")
        #expect(report.summaryLine == "\(report.results.count) passed, 0 failed")
    }

    @Test func everyRuleIsExercised() throws {
        let set = try Self.loadPolicies()
        let suite = try PolicyTestSuite.load(directory: PolicyTestSuite.testDirectory(ofPolicies: Self.policyDirectory))
        let decided = Set(suite.run(against: set).results.flatMap { $0.decision?.rules ?? [] })
        for rule in set.rules {
            #expect(decided.contains(rule.id), "no test case is decided by rule `\(rule.id)`")
        }
        let outcomes = Set(suite.run(against: set).results.compactMap { $0.decision?.outcome })
        #expect(outcomes == Set(Decision.Outcome.allCases))
    }

    /// The loaded set's evaluator (possibly an optimised one) and the reference tree walk agree on every case.
    @Test func referenceEvaluatorAgrees() throws {
        let set = try Self.loadPolicies()
        let suite = try PolicyTestSuite.load(directory: PolicyTestSuite.testDirectory(ofPolicies: Self.policyDirectory))
        let reference = Evaluator(rules: set.rules)
        for testCase in suite.cases {
            let input = try EvaluationInput.decode(jsonLine: testCase.inputJSON, schema: set.schema)
            #expect(set.evaluate(input) == reference.decide(input), "case `\(testCase.name)` in \(testCase.file)")
        }
    }
}
