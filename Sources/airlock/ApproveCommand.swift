import AirlockCore
import ArgumentParser
import Foundation

/// `airlock approve ID [--comment C]`: approves a request as a member of a required group.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve an access request (see `airlock pending`).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The request id.")
    var id: String

    @Option(help: "A comment for the requester and the audit log.")
    var comment: String = ""

    func run() async throws {
        try await runClient {
            try await ReviewCall.send(options, id: id, verdict: "approve", comment: comment)
        }
    }
}

/// The shared body of `approve` and `deny`.
enum ReviewCall {
    static func send(_ options: ClientOptions, id: String, verdict: String, comment: String) async throws {
        let client = try options.client()
        let reply = try await client.post(
            "/v1/access-requests/\(pathSegment(id))/\(verdict)", .object(["comment": .string(comment)]))
        if options.json {
            print(reply.text)
            return
        }
        let request = try reply.json()
        let status = request["status"]?.shown ?? "?"
        let done = verdict == "approve" ? "approved" : "denied"
        print("\(done) request \(request["id"]?.shown ?? id); it is now \(status)")
        if status == "pending_approval" {
            let needed = ClientOutput.stillNeeded(request)
            if !needed.isEmpty { print("  still needs \(needed)") }
        }
    }
}
