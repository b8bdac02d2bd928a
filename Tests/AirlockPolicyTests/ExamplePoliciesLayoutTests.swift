import AirlockPolicy
import Foundation
import Testing

/// The example policies are in canonical layout: `airlock policy fmt --check Policies` passes in CI.
struct ExamplePoliciesLayoutTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".airlock") }.sorted()
    }

    @Test func thereAreExamplePolicyFiles() {
        #expect(Self.files.count >= 3)
    }

    @Test(arguments: files)
    func exampleFileIsFormatted(name: String) throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
        let formatted = try AirlockPolicy.Formatter.isFormatted(SourceFile(name: name, text: text)).get()
        #expect(formatted, "run `airlock policy fmt Policies`: \(name) is not in canonical layout")
    }
}
