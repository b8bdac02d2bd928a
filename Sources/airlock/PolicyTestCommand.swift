import AirlockPolicy
import ArgumentParser
import Foundation

/// `airlock policy test [DIR]`: run the policy test files in `DIR/tests/`.
struct PolicyTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the policy test cases in DIR/tests/*.json against DIR.",
        discussion: """
            Each test file holds cases with an input and the expected decision (see the policy language \
            reference). Prints every failing case with its mismatches, then `N passed, M failed`. Exits 1 when \
            a case fails, the policies do not load, or a test file is malformed.
            """)

    @Argument(help: "The policy directory; its tests are in DIR/tests/.")
    var directory = PolicyCommand.defaultDirectory

    func run() throws {
        let policies = try PolicyCommandSupport.loadPolicies(directory)
        let testDirectory = PolicyTestSuite.testDirectory(ofPolicies: URL(fileURLWithPath: directory, isDirectory: true))
        let suite: PolicyTestSuite
        do {
            suite = try PolicyTestSuite.load(directory: testDirectory)
        } catch {
            PolicyCommandSupport.printError("error: \(error)")
            throw ExitCode(1)
        }
        let report = suite.run(against: policies)
        print(report.description)
        if !report.allPassed { throw ExitCode(1) }
    }
}
