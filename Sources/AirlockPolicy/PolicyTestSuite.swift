import Foundation

/// The policy test files of a policy directory (`DIR/tests/*.json`), ready to run against a ``PolicySet``.
///
/// A test file is one JSON object:
///
/// ```json
/// {
///   "description": "what this file covers (optional)",
///   "defaults": {"principal": {"kind": "user", "groups": ["sre"], "mfa_age": 300}, "request": {"hour": 10}},
///   "cases": [
///     {"name": "sre reads prod with fresh mfa",
///      "input": {"resource": {"id": "orders-db", "env": "prod"}, "request": {"role": "readonly", "ttl": 7200}},
///      "expect": {"decision": "permit", "ttl_seconds": 3600, "rules": ["sre-prod-readonly"], "notify": []}}
///   ]
/// }
/// ```
///
/// - `input` has the `airlock policy eval` input format (IPs as strings, durations as integer seconds, sets as arrays).
///   It is laid over `defaults` entity by entity and attribute by attribute: an attribute in the case replaces the
///   default (a set is replaced, not merged), `null` removes it, and `"principal": null` removes the whole entity.
/// - `expect` needs `decision` (`permit`, `pending_approval` or `deny`); `ttl_seconds` (a number, or `null` for none),
///   `rules`, `approvals` (`[{"rule": ..., "requires": [{"group": ..., "count": N}]}]`), `notify` and `errors`
///   (`[{"rule": ..., "message"?: ...}]`) are checked only when present. Lists compare as sets, except `requires`.
/// - Unknown keys anywhere, unknown attributes in an input, duplicate case names and files without cases are
///   errors: a typo must never make a test pass silently. Case names are unique within a file.
public struct PolicyTestSuite: Sendable {
    /// The name of the folder inside a policy directory that holds its test files.
    public static let directoryName = "tests"

    /// The cases of every file, in file name order and then in the order written.
    public let cases: [PolicyTestCase]

    /// Creates a suite from cases.
    public init(cases: [PolicyTestCase]) {
        self.cases = cases
    }

    /// The test folder of a policy directory: `DIR/tests`.
    public static func testDirectory(ofPolicies directory: URL) -> URL {
        directory.appendingPathComponent(directoryName, isDirectory: true)
    }

    /// Loads every `*.json` file directly inside `directory` (for `airlock policy test DIR`, that is `DIR/tests`),
    /// in file name order; subfolders and other files are ignored. File names in results and errors are the
    /// directory as given joined with the file name. A folder without test files is an error.
    public static func load(directory: URL) throws(PolicyTestError) -> PolicyTestSuite {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PolicyTestError(file: directory.relativePath, message: "cannot read the test directory")
        }
        var cases: [PolicyTestCase] = []
        var fileCount = 0
        for name in names.sorted() where name.hasSuffix(".json") {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard let data = manager.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
                throw PolicyTestError(file: url.relativePath, message: "cannot read the file as utf-8 text")
            }
            cases += try parse(text, file: url.relativePath)
            fileCount += 1
        }
        guard fileCount > 0 else {
            throw PolicyTestError(file: directory.relativePath, message: "no test files (`*.json`) in the directory")
        }
        return PolicyTestSuite(cases: cases)
    }

    /// Reads the cases of one test file's text; `file` names it in errors and results.
    public static func parse(_ text: String, file: String) throws(PolicyTestError) -> [PolicyTestCase] {
        var reader = PolicyTestFileReader(file: file)
        return try reader.read(text)
    }

    /// Decides every case's input under `policies` and compares the decision with the case's expectation.
    public func run(against policies: PolicySet) -> PolicyTestReport {
        PolicyTestReport(results: cases.map { $0.run(against: policies) })
    }
}

/// One case of a policy test file: a named input (already merged with the file's defaults) and its expectation.
public struct PolicyTestCase: Sendable, Hashable {
    /// The test file the case is in.
    public let file: String
    /// The case's name, unique within its file.
    public let name: String
    /// The complete input as one line of `airlock policy eval` input JSON, after merging the file's defaults.
    public let inputJSON: String
    /// What the decision must look like.
    public let expectation: PolicyTestExpectation
    /// The attribute names of the merged input, by entity name, for the unknown-attribute check.
    let attributeNames: [String: [String]]

    init(file: String, name: String, entities: [(name: String, attributes: [(String, JSONInput)]?)],
        expectation: PolicyTestExpectation) {
        self.file = file
        self.name = name
        self.expectation = expectation
        self.inputJSON = JSONInput.object(entities.map { entity in
            (entity.name, entity.attributes.map(JSONInput.object) ?? .null)
        }).text
        var names: [String: [String]] = [:]
        for entity in entities { names[entity.name] = entity.attributes?.map(\.0) ?? [] }
        self.attributeNames = names
    }

    /// Decides this case's input under `policies` and compares the decision with the expectation.
    /// An attribute the policy set's schema does not know, or a value of the wrong type, fails the case.
    public func run(against policies: PolicySet) -> PolicyTestReport.CaseResult {
        var problems: [String] = []
        for root in EntityRoot.allCases {
            for name in attributeNames[root.rawValue] ?? [] where policies.schema[AttributePath(root, name)] == nil {
                let path = AttributePath(root, name)
                let hint = policies.schema.suggestion(for: path).map { "; did you mean `\($0)`?" } ?? ""
                problems.append("input: unknown attribute `\(path)`\(hint)")
            }
        }
        let input: EvaluationInput
        do {
            input = try EvaluationInput.decode(jsonLine: inputJSON, schema: policies.schema)
        } catch {
            problems.append("input: \(error.message)")
            return PolicyTestReport.CaseResult(file: file, name: name, mismatches: problems, decision: nil)
        }
        guard problems.isEmpty else {
            return PolicyTestReport.CaseResult(file: file, name: name, mismatches: problems, decision: nil)
        }
        let decision = policies.evaluate(input)
        var mismatches = expectation.mismatches(decision)
        let named = (expectation.rules ?? []) + (expectation.approvals ?? []).map(\.rule)
            + (expectation.errors ?? []).map(\.rule)
        let known = policies.rules.map(\.id)
        for id in Set(named).sorted() where policies.rule(id: id) == nil {
            mismatches.append("`\(id)` is not a rule of the policy set" + Suggestion.didYouMean(id, among: known))
        }
        return PolicyTestReport.CaseResult(file: file, name: name, mismatches: mismatches, decision: decision)
    }
}
