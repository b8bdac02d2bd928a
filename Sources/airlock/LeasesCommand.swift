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
            var items: [JSONValue] = []
            var texts: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\(pathSegment($0))" } ?? ""
                let reply = try await client.get("/v1/leases?limit=500\(query)")
                let page = try reply.json()
                texts.append(reply.text)
                items += page["items"]?.arrayValue ?? []
                cursor = page["next_cursor"]?.stringValue
            } while cursor != nil && items.count < 10_000
            if options.json {
                print(texts.count == 1 ? texts[0] : JSONValue.object(["items": .array(items), "next_cursor": .null]).description)
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
