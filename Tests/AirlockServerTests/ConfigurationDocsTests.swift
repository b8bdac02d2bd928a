import AirlockServer
import Foundation
import Testing

/// `Docs/configuration.md` stays true to the settings Airlock reads.
struct ConfigurationDocsTests {
    static let document: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/configuration.md")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    @Test(arguments: Setting.all.map(\.key))
    func everySettingIsDocumentedWithItsEnvironmentVariable(key: String) throws {
        let setting = try #require(Setting.all.first { $0.key == key })
        let row = Self.document.split(separator: "\n").first { $0.hasPrefix("| `\(key)` |") }
        let line = try #require(row, "Docs/configuration.md has no row for `\(key)`")
        #expect(line.contains("`\(setting.environmentName)`"))
    }

    @Test func theDocumentNamesNoSettingAirlockDoesNotRead() {
        let documented = Self.document.split(separator: "\n")
            .filter { $0.hasPrefix("| `") && $0.contains("AIRLOCK_") }
            .compactMap { $0.split(separator: "`").dropFirst().first.map(String.init) }
        let known = Set(Setting.all.map(\.key))
        #expect(!documented.isEmpty)
        for key in documented {
            #expect(known.contains(key), "Docs/configuration.md documents unknown setting `\(key)`")
        }
    }
}
