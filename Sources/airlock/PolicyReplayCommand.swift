import AirlockBroker
import AirlockPolicy
import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation

/// `airlock policy replay --policies DIR [--since 7d]`: re-decide stored requests under a proposed policy set and
/// list every decision that would change, before the change is merged.
struct PolicyReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-decide stored requests under proposed policies; list every decision that would change.",
        discussion: """
            Reads the requests made within --since (default 7d) from the broker's database, newest first, 500 at a \
            time, decides each again on the input stored with it under the policies in DIR, and lists each one \
            whose outcome, granted TTL or required approvals would differ, with the rules involved before and \
            after. --json prints one JSON object instead of the table. Exits 0 when no decision would change, 1 \
            when some would (or a stored input cannot be read by the new set), 2 when the policies do not load \
            (diagnostics on stderr) or the database cannot be read.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "The proposed policy directory.")
    var policies: String

    @Option(help: ArgumentHelp("How far back to look: 30s, 15m, 1h, 7d.", valueName: "duration"))
    var since = "7d"

    @Option(help: "Re-decide at most N requests, the most recent first.")
    var limit: Int?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        _ = try sinceSeconds()
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func sinceSeconds() throws -> Int64 {
        guard case .success(let seconds) = DurationText.parse(since), seconds > 0 else {
            throw ValidationError("--since `\(since)` is not a positive duration such as 30s, 15m, 1h or 7d")
        }
        return seconds
    }

    func run() async throws {
        let policySet: PolicySet
        switch PolicySet.load(directory: URL(fileURLWithPath: policies, isDirectory: true)) {
        case .success(let loaded):
            policySet = loaded
        case .failure(let error):
            PolicyCommandSupport.report(error)
            throw ExitCode(2)
        }
        let since = Date().addingTimeInterval(-TimeInterval(try sinceSeconds()))
        let limit = self.limit
        let report: PolicyReplay.Report
        do {
            let replay = PolicyReplay(policies: policySet)
            report = try await options.withDatabase { database, _, logger in
                try await replay.run(AccessRequestHistory(database: database, logger: logger), since: since, limit: limit)
            }
        } catch {
            PolicyCommandSupport.printError("error: \(PolicyReplayOutput.describe(error))")
            throw ExitCode(2)
        }
        print(json ? PolicyReplayOutput.json(report, since: since) : PolicyReplayOutput.text(report, since: since))
        if report.hasChanges { throw ExitCode(1) }
    }
}
