import ArgumentParser

/// `airlock`: the broker (`serve`, `dev`, `migrate`, `keys`, `audit`) and, as later issues land, its client.
@main
struct Airlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock",
        abstract: "Zero-trust just-in-time access broker.",
        discussion: "Start here: `airlock dev` runs a complete local broker with a demo database.",
        subcommands: [ServeCommand.self, DevCommand.self, MigrateCommand.self, KeysCommand.self, AuditCommand.self,
            PolicyCommand.self, TokenCommand.self,
            LoginCommand.self, RequestCommand.self, PendingCommand.self, ApproveCommand.self, DenyCommand.self,
            CredsCommand.self, ExecCommand.self, CredentialsCommand.self, AgentCommand.self, RenewCommand.self, RevokeCommand.self, LeasesCommand.self,
            WebhooksCommand.self, SignalCommand.self, SharedSignalsCommand.self, BenchCommand.self]
    )
}
