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

    @Option(name: .customLong("relied-on"), help: ArgumentHelp(
        "What you relied on, comma-separated: risk, peers, last_uses, first_use (recorded in the audit log).",
        valueName: "list"))
    var reliedOn: String?

    func run() async throws {
        try await runClient {
            try await ReviewCall.send(options, id: id, verdict: "approve", comment: comment, reliedOn: reliedOn)
        }
    }
}

/// The shared body of `approve` and `deny`.
enum ReviewCall {
    static func send(
        _ options: ClientOptions, id: String, verdict: String, comment: String, reliedOn: String? = nil
    ) async throws {
        let client = try options.client()
        var body: [String: JSONValue] = ["comment": .string(comment)]
        if let reliedOn {
            body["relied_on"] = .array(reliedOn.split(separator: ",").map {
                .string($0.trimmingCharacters(in: .whitespaces))
            })
        }
        let reply = try await client.post("/v1/access-requests/\(pathSegment(id))/\(verdict)", .object(body))
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
