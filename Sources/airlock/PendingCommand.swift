import AirlockCore
import ArgumentParser
import Foundation

/// `airlock pending`: the requests the caller may approve.
struct PendingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending", abstract: "List access requests waiting for your approval.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let client = try options.client()
            var items: [JSONValue] = []
            var texts: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\(pathSegment($0))" } ?? ""
                let reply = try await client.get("/v1/access-requests?status=pending_approval\(query)")
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
                print("nothing waiting for your approval")
                return
            }
            for item in items {
                let id = item["id"]?.shown ?? "?"
                let who = item["principal"]?.shown ?? "?"
                let what = "\(item["resource"]?.shown ?? "?")/\(item["role"]?.shown ?? "?")"
                let ttl = ClientOutput.duration(item["ttl_seconds"]?.intValue)
                print("\(id)  \(who)  \(what)  ttl \(ttl)")
                print("  reason: \(item["reason"]?.shown ?? "")")
                if let ticket = item["ticket"]?.shown { print("  ticket: \(ticket)") }
                let needed = ClientOutput.stillNeeded(item)
                if !needed.isEmpty { print("  needs: \(needed)") }
            }
            print("approve with: airlock approve ID [--comment C]; deny with: airlock deny ID [--comment C]")
        }
    }
}
