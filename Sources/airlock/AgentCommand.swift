import AirlockAgent
import AirlockServer
import ArgumentParser
import Foundation
import Logging
import UnixSignals

/// `airlock agent --config FILE [--dry-run] [-- COMMAND...]`: keeps a service's credentials fresh for as long as it
/// runs (see `Docs/agent.md`).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Keep a long-running service's credentials fresh: renewed, replaced with overlap, handed over.",
        discussion: """
            Authenticates as a workload (a token file re-read before every call, or a token in an environment \
            variable), obtains each configured credential in one call, sealed to a key of its own, and keeps it \
            fresh: renewed at about two thirds of its lease; before the policy's cap, a new one issued while the \
            old one still works, handed over, and the old one revoked after the grace period. Credentials are \
            handed over in files (env, json, dsn, pgpass, status; written atomically, mode 0600) and, after `--`, \
            to COMMAND's environment (restarted or signalled on rotation). SIGTERM or SIGINT stop COMMAND, revoke \
            what the agent holds (unless revoke_on_exit is false) and remove the files. Docs/agent.md.
            """)

    @Option(help: ArgumentHelp("The agent's JSON configuration file.", valueName: "file"))
    var config: String

    @Flag(help: "Check the configuration, the token and the policy's decision for each credential; issue nothing.")
    var dryRun = false

    @Option(help: "Log format: json or text (default: text on a terminal, else json).")
    var logFormat: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Argument(parsing: .postTerminator, help: "The application to run with the credentials, after `--`.")
    var command: [String] = []

    func validate() throws {
        if let logFormat, !["json", "text"].contains(logFormat) {
            throw ValidationError("--log-format must be json or text")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        try await runClient {
            let configuration: AgentConfiguration
            do {
                configuration = try AgentConfiguration.load(path: config)
            } catch {
                throw ClientError("the agent configuration \(error)")
            }
            let agent: Agent
            do {
                agent = try Agent(configuration: configuration, logger: bootstrapLogging())
            } catch {
                throw ClientError("`broker`: \(error)")
            }
            if dryRun {
                let ok = await agent.dryRun { print($0) }
                if !ok { throw ClientError.silent(1) }
                return
            }
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            let status = try await agent.run(command: command) {
                for await _ in signals { return }
            }
            if status != 0 { throw ClientError.silent(status) }
        }
    }

    private func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = (logFormat ?? (isatty(STDERR_FILENO) != 0 ? "text" : "json")) == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "airlock.agent")
    }
}
