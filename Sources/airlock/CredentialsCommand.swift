import AirlockCore
import ArgumentParser

/// `airlock credentials RESOURCE --role R --ttl 10m [--format env|json|dsn] [-- COMMAND...]`: a credential in one call,
/// for services and CI jobs (`POST /v1/credentials`).
struct CredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials",
        abstract: "Get a credential in one call when the policy permits it at once (services, CI).",
        discussion: """
            Prints the credential (`--format env` for `eval "$(airlock credentials ...)"`), or, after `--`, runs \
            COMMAND with it in COMMAND's environment only (PG* variables or AIRLOCK_CREDENTIAL_TOKEN, without \
            AIRLOCK_TOKEN). When the policy does not permit it at once, exits 1 with the decision.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The resource id, e.g. payments-api.")
    var resource: String

    @Option(help: "The role on the resource.")
    var role: String

    @Option(help: "How long: 30s, 15m, 1h, 2d.")
    var ttl: String

    @Option(help: "Why (recorded with the request).")
    var reason: String?

    @Option(help: "env (export lines), json or dsn (a connection URL, or the token).")
    var format: CredentialFormat = .env

    @Argument(parsing: .postTerminator, help: "A command to run with the credential, after `--`.")
    var command: [String] = []

    func validate() throws {
        _ = try ClientOutput.parseDuration(ttl)
    }

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = [
                "resource": .string(resource), "role": .string(role),
                "ttl_seconds": .int(try ClientOutput.parseDuration(ttl)),
            ]
            if let reason { body["reason"] = .string(reason) }
            let reply = try await options.client().sealedCredential("POST", "/v1/credentials", body: .object(body))
            guard !command.isEmpty else {
                try ClientExec.show(reply, format: format, json: options.json)
                return
            }
            let credential = try reply.json()
            ClientOutput.note(ClientOutput.credentialNote(credential))
            let status = try ClientExec.run(command, credential: credential)
            if status != 0 { throw ClientError.silent(status) }
        }
    }
}
