import ArgumentParser

/// `airlock exec ID -- COMMAND...`: picks up the credential and runs COMMAND with it in its environment only.
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Pick up a credential and run a command with it.",
        discussion: """
            COMMAND gets PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD and PGSSLMODE, or \
            AIRLOCK_CREDENTIAL_TOKEN; no other PG* variable of this shell (PGHOSTADDR, PGSERVICE, PGOPTIONS, ... \
            could redirect the connection), and not AIRLOCK_TOKEN. Exits with COMMAND's status.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The request id.")
    var id: String

    @Argument(parsing: .postTerminator, help: "The command to run, after `--`.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after `--`: airlock exec ID -- psql") }
    }

    func run() async throws {
        try await runClient {
            try await ClientExec.pickUpAndRun(try options.client(), id: id, command: command)
        }
    }
}
