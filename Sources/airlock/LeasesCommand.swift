import AirlockCore
import ArgumentParser

/// `airlock leases`: the caller's leases (everyone's for auditors and admins).
struct LeasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leases", abstract: "List your leases.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let reply = try await options.client().get("/v1/leases")
            if options.json {
                print(reply.text)
                return
            }
            let items = try reply.json()["items"]?.arrayValue ?? []
            if items.isEmpty {
                print("no leases")
                return
            }
            for lease in items {
                let fields = [
                    lease["id"]?.stringValue ?? "?", lease["status"]?.stringValue ?? "?",
                    "\(lease["resource"]?.stringValue ?? "?")/\(lease["role"]?.stringValue ?? "?")",
                    lease["username"]?.stringValue ?? "-", "expires \(lease["expires_at"]?.stringValue ?? "?")",
                ]
                var line = fields.joined(separator: "  ")
                if let error = lease["last_error"]?.stringValue { line += "  (\(error))" }
                print(line)
            }
        }
    }
}
