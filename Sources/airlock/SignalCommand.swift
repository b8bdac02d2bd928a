import AirlockCore
import ArgumentParser

/// `airlock signal add|list|rm` (admins, `signals` tokens; auditors may list): external risk signals
/// (`/v1/signals`).
struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Report, list and withdraw external risk signals (admins and signals tokens; auditors may list).",
        subcommands: [SignalAddCommand.self, SignalListCommand.self, SignalRemoveCommand.self])
}

/// `airlock signal add PRINCIPAL SIGNAL --severity high --ttl 1h [--detail TEXT]`.
struct SignalAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Report a risk signal about a principal, active for --ttl.",
        discussion: """
            SIGNAL names the finding in risk.signals, e.g. device_compromised, credential_leaked or \
            impossible_travel (^[a-z][a-z0-9_]{0,62}$, not a name Airlock computes itself). --ttl is 1m to 30d.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The principal id the signal is about, exactly as Airlock shows it.")
    var principal: String

    @Argument(help: "The signal's name, e.g. device_compromised.")
    var signal: String

    @Option(help: "info, low, medium, high or critical.")
    var severity: String

    @Option(help: "How long it counts: 1m to 30d, e.g. 1h, 2d.")
    var ttl: String

    @Option(help: "What the sender says about it (at most 1,000 characters).")
    var detail: String?

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = [
                "principal": .string(principal), "signal": .string(signal), "severity": .string(severity),
                "ttl_seconds": .int(try ClientOutput.parseDuration(ttl)),
            ]
            if let detail { body["detail"] = .string(detail) }
            let reply = try await options.client().post("/v1/signals", .object(body))
            if options.json {
                print(reply.text)
                return
            }
            let added = try reply.json()
            print(
                "signal \(added["id"]?.shown ?? "?") recorded: \(added["signal"]?.shown ?? "?") "
                    + "(\(added["severity"]?.shown ?? "?")) for \(added["principal"]?.shown ?? "?"), "
                    + "active until \(added["expires_at"]?.shown ?? "?")")
        }
    }
}

/// `airlock signal list [--principal P] [--all] [--json]`: the active signals, newest first (every page).
struct SignalListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List active risk signals (with --all, expired and withdrawn ones too).")

    @OptionGroup var options: ClientOptions

    @Option(help: "Only the signals about this principal id.")
    var principal: String?

    @Flag(help: "Include expired and withdrawn signals.")
    var all = false

    func run() async throws {
        try await runClient {
            var path = "/v1/signals?limit=500"
            if let principal { path += "&principal=\(pathSegment(principal))" }
            if all { path += "&all=true" }
            let (items, json) = try await options.client().allPages(path)
            if options.json {
                print(json)
                return
            }
            if items.isEmpty {
                print(all ? "no signals" : "no active signals")
                return
            }
            for signal in items {
                var line = [
                    signal["id"]?.shown ?? "?", signal["status"]?.shown ?? "?", signal["principal"]?.shown ?? "?",
                    signal["signal"]?.shown ?? "?", signal["severity"]?.shown ?? "?",
                    "until \(signal["expires_at"]?.shown ?? "?")", "from \(signal["source"]?.shown ?? "?")",
                ].joined(separator: "  ")
                if let detail = signal["detail"]?.shown { line += "  \"\(detail)\"" }
                print(line)
            }
        }
    }
}

/// `airlock signal rm ID`: withdraws a signal now.
struct SignalRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Withdraw a risk signal now (it stops counting at once).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The signal id (see `airlock signal list`).")
    var id: String

    func run() async throws {
        try await runClient {
            _ = try await options.client().send("DELETE", "/v1/signals/\(pathSegment(id))", body: nil)
            if options.json {
                print(#"{"withdrawn":true}"#)
                return
            }
            print("signal \(id) withdrawn")
        }
    }
}
