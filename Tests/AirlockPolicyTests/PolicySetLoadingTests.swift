import Foundation
import Testing

@testable import AirlockPolicy

@Suite("Loading a policy directory")
struct PolicySetLoadingTests {
    private func withDirectory(_ files: [String: String], _ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("tests"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try body(directory)
    }

    @Test func loadsAirlockFilesInNameOrderIgnoringSubfoldersAndOtherFiles() throws {
        try withDirectory([
            "b.airlock": #"permit "b" when principal.team == "x";"#,
            "a.airlock": #"permit "a" when true;"#,
            "schema.airlock": "attribute principal.team: String",
            "notes.md": "not a policy",
            "tests/case.airlock": "this is not parsed",
        ]) { directory in
            let set = try PolicySet.load(directory: directory).get()
            #expect(set.rules.map(\.id) == ["a", "b"])
            #expect(set.sources.map { URL(fileURLWithPath: $0.name).lastPathComponent } == ["a.airlock", "b.airlock", "schema.airlock"])
        }
    }

    @Test func reportsErrorsOfEveryFileSorted() throws {
        try withDirectory([
            "b.airlock": #"permit "x" when risk.score == "high";"#,
            "a.airlock": "permit \"x\" when true;\nforbid \"y\" ttl <= 1h;",
        ]) { directory in
            guard case .failure(let error) = PolicySet.load(directory: directory) else {
                Issue.record("loaded")
                return
            }
            #expect(error.diagnostics.map { URL(fileURLWithPath: $0.location.file).lastPathComponent } == ["a.airlock", "b.airlock", "b.airlock"])
            #expect(error.diagnostics.map(\.message) == [
                "`ttl` is not allowed on a `forbid` rule",
                "duplicate rule id `x`; it is first defined at \(directory.appendingPathComponent("a.airlock").relativePath):1:8",
                "cannot compare with `==`: `risk.score` is Int and `\"high\"` is String",
            ])
        }
    }

    @Test func emptyAndMissingDirectories() throws {
        try withDirectory([:]) { directory in
            let set = try PolicySet.load(directory: directory).get()
            #expect(set.evaluate(baseInput()).outcome == .deny)
        }
        let missing = URL(fileURLWithPath: "/nonexistent/airlock-policies")
        guard case .failure(let error) = PolicySet.load(directory: missing) else {
            Issue.record("loaded")
            return
        }
        #expect(error.diagnostics.map(\.message) == ["cannot read policy directory `/nonexistent/airlock-policies`"])
    }
}
