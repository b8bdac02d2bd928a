import AirlockCore
import ArgumentParser

/// `airlock revoke LEASE_ID`: ends a lease now (`POST /v1/leases/{id}/revoke`).
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "End a lease now: its login is dropped (open sessions end) or its token revoked.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The lease id (see `airlock leases`).")
    var lease: String

    func run() async throws {
        try await runClient {
            let reply = try await options.client().post("/v1/leases/\(pathSegment(lease))/revoke", .object([:]))
            if options.json {
                print(reply.text)
                return
            }
            let lease = try reply.json()
            let status = lease["status"]?.stringValue ?? "?"
            var line = "lease \(lease["id"]?.stringValue ?? self.lease): \(status)"
            if let error = lease["last_error"]?.stringValue { line += " (\(error); retrying in the background)" }
            print(line)
        }
    }
}
