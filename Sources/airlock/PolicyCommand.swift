import AirlockBroker
import ArgumentParser

/// `airlock policy check | fmt | test | eval | explain | bench | replay`: work with policy files; only `replay`
/// reads the broker's database.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, format, test, evaluate, explain and replay access policies.",
        discussion: """
            Policies live in `Policies/*.airlock` (schema declarations in any of them); `check`, `fmt` and `test` \
            work on `Policies/` when given no argument. Diagnostics go to stderr as `file:line:column: error: ...` \
            with the source line and a caret.
            """,
        subcommands: [
            PolicyCheckCommand.self, PolicyFormatCommand.self, PolicyTestCommand.self,
            PolicyEvalCommand.self, PolicyExplainCommand.self, PolicyBenchCommand.self, PolicyReplayCommand.self,
        ])

    /// The policy directory used when none is given.
    static let defaultDirectory = "Policies"
}
