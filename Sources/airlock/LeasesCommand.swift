import AirlockCore
import ArgumentParser

/// `airlock leases`: the caller's leases (everyone's for auditors and admins).
struct LeasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leases", abstract: "List your leases.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            // Every page (500 leases each), newest first, up to 10,000 leases.
            let client = try options.client()
            let (items, json) = try await client.allPages("/v1/leases?limit=500")
            if options.json {
                print(json)
                return
            }
            if items.isEmpty {
                print("no leases")
                return
            }
            for lease in items {
                let fields = [
                    lease["id"]?.shown ?? "?", lease["status"]?.shown ?? "?",
                    "\(lease["resource"]?.shown ?? "?")/\(lease["role"]?.shown ?? "?")",
                    lease["username"]?.shown ?? "-", "expires \(lease["expires_at"]?.shown ?? "?")",
                ]
                var line = fields.joined(separator: "  ")
                if let error = lease["last_error"]?.shown { line += "  (\(error))" }
                print(line)
            }
        }
    }
}
