import AirlockCore
import ArgumentParser
import Foundation

/// `airlock renew LEASE_ID --ttl 30m`: extends an active lease (`POST /v1/leases/{id}/renew`), never past the
/// rule's cap counted from issue, nor past the TTL its approvers approved.
struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Extend an active lease (up to the policy's cap, or what its approvers approved, from issue).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The lease id (see `airlock leases`).")
    var lease: String

    @Option(help: "How long from now: 30s, 15m, 1h, 2d.")
    var ttl: String

    func validate() throws {
        _ = try ClientOutput.parseDuration(ttl)
    }

    func run() async throws {
        try await runClient {
            let body: JSONValue = .object(["ttl_seconds": .int(try ClientOutput.parseDuration(ttl))])
            let reply = try await options.client().post("/v1/leases/\(pathSegment(lease))/renew", body)
            if options.json {
                print(reply.text)
                return
            }
            let renewed = try reply.json()
            print("lease \(renewed["id"]?.shown ?? lease): \(renewed["status"]?.shown ?? "?") until "
                + (renewed["expires_at"]?.shown ?? "?"))
            let asked = Date().addingTimeInterval(TimeInterval(try ClientOutput.parseDuration(ttl)))
            if let text = renewed["expires_at"]?.stringValue, let expiry = try? Date(text, strategy: .iso8601),
               expiry.addingTimeInterval(60) < asked {
                ClientOutput.note("capped: a lease never outlasts the policy's cap, or the time its approvers "
                    + "approved, counted from issue; for more time, make a new request")
            }
        }
    }
}
