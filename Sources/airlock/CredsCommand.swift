import ArgumentParser

/// `airlock creds ID [--format dsn|env|json]`: picks up the credential of an approved request (once).
struct CredsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "creds",
        abstract: "Pick up the credential of an approved request (it can be picked up once).",
        discussion: "`--format env` prints shell `export` lines: eval \"$(airlock creds ID --format env)\".")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The request id.")
    var id: String

    @Option(help: "dsn (a connection URL), env (export lines) or json.")
    var format: CredentialFormat = .dsn

    func run() async throws {
        try await runClient {
            let client = try options.client()
            try ClientExec.show(try await ClientExec.pickUp(client, id: id), format: format, json: options.json)
        }
    }
}
