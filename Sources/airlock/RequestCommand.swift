import AirlockCore
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `airlock request RESOURCE --role R --ttl 30m --reason "..."`: asks for access; with `--wait`, waits for the
/// decision, then picks the credential up and shows it, or runs `-- COMMAND` with it.
struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Ask for just-in-time access to a resource.",
        discussion: """
            Prints the request id, its status and the decision. With --wait, waits until the request is decided, \
            then picks up the credential and prints it (--format), or runs `-- COMMAND...` with it as `exec` does. \
            Exits 1 when the request is denied or expires.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The resource, such as orders-staging.")
    var resource: String

    @Option(help: "The role template, such as readonly.")
    var role: String

    @Option(help: ArgumentHelp("How long access should last: 30s, 15m, 1h, 2d, 1h30m.", valueName: "duration"))
    var ttl: String

    @Option(help: "Why you need access (recorded in the audit log).")
    var reason: String

    @Option(help: "A ticket reference.")
    var ticket: String?

    @Flag(help: "Emergency access under the break-glass policy.")
    var breakGlass = false

    @Flag(help: "Wait for the decision, then pick up the credential.")
    var wait = false

    @Option(help: "With --wait and no command: how to print the credential (dsn, env, json).")
    var format: CredentialFormat = .dsn

    @Argument(parsing: .postTerminator, help: "With --wait: a command to run with the credential.")
    var command: [String] = []

    func validate() throws {
        do {
            _ = try ClientOutput.parseDuration(ttl)
        } catch let error as ClientError {
            throw ValidationError(error.description)
        }
        if !command.isEmpty && !wait { throw ValidationError("`-- COMMAND` needs --wait") }
    }

    func run() async throws {
        try await runClient {
            let client = try options.client()
            var body: [String: JSONValue] = [
                "resource": .string(resource), "role": .string(role),
                "ttl_seconds": .int(try ClientOutput.parseDuration(ttl)), "reason": .string(reason),
            ]
            if let ticket { body["ticket"] = .string(ticket) }
            if breakGlass { body["break_glass"] = .bool(true) }
            let reply = try await client.post("/v1/access-requests", .object(body))
            let answer = try reply.json()
            let id = answer["id"]?.shown ?? ""
            let status = answer["status"]?.shown ?? "?"
            if options.json {
                print(reply.text)
            } else {
                let decision = answer["decision"]?["decision"]?.shown ?? status
                print("request \(id) \(status)\(decision == status ? "" : " (\(decision))")")
                ClientOutput.decisionLines(answer).forEach { print($0) }
            }
            if status == "denied" || status == "expired" { throw ClientError.silent(1) }
            guard wait else {
                if !options.json, status == "approved" {
                    print("pick it up with: airlock creds \(id)  (or: airlock exec \(id) -- psql)")
                }
                return
            }
            let final = status == "pending_approval" ? try await waitForDecision(client, id: id) : status
            switch final {
            case "approved":
                break
            case "denied", "expired":
                throw ClientError("request \(id) \(final)")
            default:
                throw ClientError("request \(id) is \(final): the credential cannot be picked up now")
            }
            if command.isEmpty {
                try ClientExec.show(try await ClientExec.pickUp(client, id: id), format: format, json: options.json)
            } else {
                try await ClientExec.pickUpAndRun(client, id: id, command: command)
            }
        }
    }

    /// Polls the request every second until it leaves `pending_approval`; shows a live status line on stderr
    /// (rewritten in place on a terminal, one line per change otherwise). Returns the final status.
    private func waitForDecision(_ client: ClientHTTP, id: String) async throws -> String {
        let live = isatty(STDERR_FILENO) == 1
        let started = ContinuousClock.now
        var lastLine = ""
        while true {
            let request = try await client.get("/v1/access-requests/\(pathSegment(id))").json()
            let status = request["status"]?.shown ?? "?"
            let elapsed = (ContinuousClock.now - started).components.seconds
            var line = "waiting: \(status)"
            let needed = ClientOutput.stillNeeded(request)
            if status == "pending_approval", !needed.isEmpty { line += ", needs \(needed)" }
            if !options.json {
                if live {
                    FileHandle.standardError.write(Data("\r\u{1B}[K\(line) (\(elapsed)s)".utf8))
                } else if line != lastLine {
                    ClientOutput.note(line)
                }
            }
            lastLine = line
            if status != "pending_approval" {
                if live && !options.json { FileHandle.standardError.write(Data("\n".utf8)) }
                if !options.json { reportDecision(request, status: status) }
                return status
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    private func reportDecision(_ request: JSONValue, status: String) {
        let reviews = (request["approvals"]?.arrayValue ?? []).map { review -> String in
            let who = review["approver"]?.shown ?? "?"
            let verdict = review["verdict"]?.shown ?? "reviewed"
            let comment = review["comment"]?.shown ?? ""
            return "  \(who): \(verdict)\(comment.isEmpty ? "" : ": \(comment)")"
        }
        ClientOutput.note("request \(request["id"]?.shown ?? "") \(status)")
        reviews.forEach { ClientOutput.note($0) }
    }
}
