import AirlockAgent
import AirlockCore
import AirlockServer
import ArgumentParser
import Foundation

/// `airlock login`: stores the token the client commands send, either signed by `airlock dev`'s dev issuer
/// (`--dev USER`) or given (`--token TOKEN`, `-` for stdin).
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Store a token for the client commands.",
        discussion: """
            With `airlock dev` running: `airlock login --dev alice --groups sre --mfa --manager carol` signs a \
            token as alice, whose manager is carol, with the dev issuer. Otherwise `airlock login --token TOKEN` \
            (or `--token -` to read it from stdin). \
            The token is stored in $AIRLOCK_HOME/token (default ~/.airlock/token), readable by you only. \
            A dev login prints the principal id the broker will see: the user itself, or \
            airlock-dev-workload#USER with --service (ids of issuers other than the primary one are \
            ISSUER#sub; see Docs/authentication.md), and so for the manager (principal.manager).
            """)

    @Option(help: ArgumentHelp("Sign a token for USER with `airlock dev`'s dev issuer.", valueName: "user"))
    var dev: String?

    @Option(help: ArgumentHelp("With --dev: the user's groups, comma-separated.", valueName: "a,b"))
    var groups: String = ""

    @Flag(help: "With --dev: the user authenticated with MFA just now.")
    var mfa = false

    @Flag(help: "With --dev: the user is on call.")
    var onCall = false

    @Flag(help: "With --dev: a service (workload) principal instead of a person.")
    var service = false

    @Option(help: ArgumentHelp("With --dev: the user's email.", valueName: "email"))
    var email: String?

    @Option(help: ArgumentHelp(
        "With --dev: the user's manager, a user name as --dev takes (the token's `manager` claim, principal.manager).",
        valueName: "user"))
    var manager: String?

    @Option(help: ArgumentHelp("With --dev: the token's lifetime.", valueName: "duration"))
    var ttl: String = "8h"

    @Flag(help: "Print the token on stdout instead of storing it.")
    var print = false

    @Option(help: ArgumentHelp("Store this token (`-`: read it from stdin).", valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp(
        "The broker's URL, whose port finds the dev issuer; remembered for the client commands (env AIRLOCK_ADDR; default \(ClientOptions.defaultAddress)).",
        valueName: "url"))
    var addr: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard (dev == nil) != (token == nil) else {
            throw ValidationError("pass exactly one of --dev USER and --token TOKEN")
        }
        if let dev, dev.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--dev needs a user name")
        }
        if let manager, manager.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--manager needs a user name")
        }
        if token != nil, mfa || onCall || service || email != nil || manager != nil || !groups.isEmpty {
            throw ValidationError("--groups, --mfa, --on-call, --service, --email and --manager go with --dev")
        }
    }

    func run() async throws {
        try await runClient {
            let (value, subject) = try await obtainToken()
            if print {
                Swift.print(value)
                return
            }
            let address = ClientOptions.resolveAddress(addr)
            _ = try BrokerAddress.checked(address)
            let path = try TokenFile.store(value, address: address)
            let principal = subject.map { DevIssuer.principalID(user: $0, service: service) }
            // The manager's id as the broker maps the claim: qualified by the token's issuer, as `sub` is.
            let managerID = subject == nil ? nil : manager.map { DevIssuer.principalID(user: $0, service: service) }
            if json {
                let answer: JSONValue = [
                    "subject": subject.map { .string($0) } ?? .null, "principal": principal.map { .string($0) } ?? .null,
                    "manager": managerID.map { .string($0) } ?? .null, "token_file": .string(path),
                ]
                Swift.print(answer.description)
            } else {
                var who = ""
                if let subject, let principal {
                    who = " as \(subject) (principal id \(principal)\(managerID.map { ", manager \($0)" } ?? ""))"
                }
                Swift.print("logged in\(who); token stored in \(path)")
            }
        }
    }

    /// The token and, for dev tokens, whom it names.
    private func obtainToken() async throws -> (String, String?) {
        if let token {
            let value = token == "-" ? readStandardInput() : token
            guard !value.isEmpty, !value.contains(where: \.isWhitespace) else {
                throw ClientError("the token is empty or contains whitespace")
            }
            return (value, nil)
        }
        guard let dev else { throw ClientError("pass --dev USER or --token TOKEN") }
        let address = ClientOptions.resolveAddress(addr)
        guard let url = URL(string: address), let scheme = url.scheme, url.host != nil else {
            throw ClientError("--addr `\(address)` is not an http(s) URL such as \(ClientOptions.defaultAddress)")
        }
        let port = url.port ?? (scheme.lowercased() == "https" ? 443 : 80)
        let path = DevState.issuerFile(port: port)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ClientError("no dev issuer key at \(path): is `airlock dev --port \(port)` running?")
        }
        let issuer: DevIssuer
        do {
            _ = try DevRuntimeDirectory.existing()  // only a key from our own private directory is used
            issuer = try DevIssuer.load(from: path)
        } catch {
            throw ClientError("\(error)")
        }
        let lifetime = try ClientOutput.parseDuration(ttl)
        let groupList = groups.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let signed = try await issuer.issueToken(
            user: dev, groups: groupList, mfa: mfa, onCall: onCall, service: service, email: email, manager: manager,
            ttl: TimeInterval(lifetime))
        return (signed, dev)
    }

    private func readStandardInput() -> String {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
