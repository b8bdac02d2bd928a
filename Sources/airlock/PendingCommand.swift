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
            let (items, json) = try await client.allPages("/v1/access-requests?status=pending_approval")
            if options.json {
                print(json)
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
                for line in ClientOutput.judgementLines(item) { print("  \(line)") }
            }
            print("approve with: airlock approve ID [--comment C] [--relied-on risk,peers,last_uses,first_use]; "
                + "deny with: airlock deny ID [--comment C]")
        }
    }
}
