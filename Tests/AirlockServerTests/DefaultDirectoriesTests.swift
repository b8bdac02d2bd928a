import AirlockServer
import AirlockStore
import Foundation
import Testing

/// Issue 11 item 5: with nothing configured the policy directory is the one installed with airlock (here: the
/// checkout this development build came from), never `Policies` relative to the working directory.
@Suite("Default directories")
struct DefaultDirectoriesTests {
    static let checkoutPolicies = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Policies").standardizedFileURL.path

    @Test func policiesDefaultToTheCheckoutNotTheWorkingDirectory() throws {
        let config = try AirlockConfiguration.load(file: nil, environment: [:])
        #expect(config.policiesDirectory.hasPrefix("/"), "`\(config.policiesDirectory)` depends on the working directory")
        #expect(URL(fileURLWithPath: config.policiesDirectory).standardizedFileURL.path == Self.checkoutPolicies)
        #expect(AirlockConfiguration().policiesDirectory == config.policiesDirectory)
    }

    @Test func anExplicitDirectoryStillWins() throws {
        let config = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_POLICIES_DIR": "/etc/airlock/policies"])
        #expect(config.policiesDirectory == "/etc/airlock/policies")
    }
}
