import ArgumentParser

/// `airlock deny ID [--comment C]`: denies a request as a member of a required group.
struct DenyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny", abstract: "Deny an access request (see `airlock pending`).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The request id.")
    var id: String

    @Option(help: "Why, for the requester and the audit log.")
    var comment: String = ""

    @Option(name: .customLong("relied-on"), help: ArgumentHelp(
        "What you relied on, comma-separated: risk, peers, last_uses, first_use (recorded in the audit log).",
        valueName: "list"))
    var reliedOn: String?

    func run() async throws {
        try await runClient {
            try await ReviewCall.send(options, id: id, verdict: "deny", comment: comment, reliedOn: reliedOn)
        }
    }
}
