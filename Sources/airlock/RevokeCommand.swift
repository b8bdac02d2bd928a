import AirlockCore
import ArgumentParser

/// `airlock revoke LEASE_ID`: ends a lease now (`POST /v1/leases/{id}/revoke`).
/// `airlock revoke --principal ID`: the kill switch (`POST /v1/principals/{id}/revoke-all`, admins): every lease of
/// the principal ends now and their pending and approved requests close. Any principal id works, `/` and `:`
/// included (it is percent-encoded into the path).
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "End a lease now: its login is dropped (open sessions end) or its token revoked.",
        discussion: """
            With --principal ID (admins): the kill switch. Every active lease of that principal ends now, and their \
            pending and approved requests are closed (status `revoked`), so nothing approved before can be picked \
            up. The id is the principal as Airlock shows it (`airlock leases`, `airlock pending`), e.g. \
            `repo:org/app`.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The lease id (see `airlock leases`).")
    var lease: String?

    @Option(help: ArgumentHelp("End every lease of this principal and close their open requests (admins).",
                               valueName: "id"))
    var principal: String?

    func validate() throws {
        switch (lease, principal) {
        case (nil, nil): throw ValidationError("give a lease id, or --principal ID for every lease of a principal")
        case (.some, .some): throw ValidationError("give a lease id or --principal, not both")
        case (nil, .some(let id)) where id.isEmpty: throw ValidationError("--principal needs a principal id")
        default: break
        }
    }

    func run() async throws {
        try await runClient {
            if let principal {
                try await revokeAll(principal)
                return
            }
            let id = lease ?? ""
            let reply = try await options.client().post("/v1/leases/\(pathSegment(id))/revoke", .object([:]))
            if options.json {
                print(reply.text)
                return
            }
            let lease = try reply.json()
            let status = lease["status"]?.shown ?? "?"
            var line = "lease \(lease["id"]?.shown ?? id): \(status)"
            if let error = lease["last_error"]?.shown { line += " (\(error); retrying in the background)" }
            print(line)
        }
    }

    private func revokeAll(_ principal: String) async throws {
        let reply = try await options.client().post(
            "/v1/principals/\(pathSegment(principal))/revoke-all", .object([:]))
        if options.json {
            print(reply.text)
            return
        }
        let answer = try reply.json()
        let leases = answer["items"]?.arrayValue ?? []
        let closed = answer["closed_requests"]?.arrayValue ?? []
        print("principal \(TerminalText.escaped(principal)): \(leases.count) lease(s) ended, \(closed.count) open request(s) closed")
        for lease in leases {
            var line = "  lease \(lease["id"]?.shown ?? "?")  "
                + "\(lease["resource"]?.shown ?? "?")/\(lease["role"]?.shown ?? "?")  "
                + (lease["status"]?.shown ?? "?")
            if let error = lease["last_error"]?.shown { line += " (\(error); retrying in the background)" }
            print(line)
        }
        for request in closed {
            print("  request \(request["id"]?.shown ?? "?")  "
                + "\(request["resource"]?.shown ?? "?")/\(request["role"]?.shown ?? "?")  "
                + "\(request["previous_status"]?.shown ?? "?") -> \(request["status"]?.shown ?? "?")")
        }
    }
}
