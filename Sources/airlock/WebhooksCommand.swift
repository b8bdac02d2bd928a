import AirlockCore
import ArgumentParser

/// `airlock webhooks add|list|rm|test|replay|rotate` (admins): the endpoints audit events are delivered to (`/v1/webhooks`).
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Manage the endpoints audit events are delivered to (admins).",
        subcommands: [WebhooksAddCommand.self, WebhooksListCommand.self, WebhooksRemoveCommand.self,
                      WebhooksTestCommand.self, WebhooksReplayCommand.self, WebhooksRotateCommand.self])
}

/// `airlock webhooks add URL [--type PREFIX ...] [--channel C ...] [--min-severity S] [--description D]
/// [--signing hmac|ed25519]`: prints the endpoint and, for `hmac`, its `whsec_` secret, this once.
struct WebhooksAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a webhook endpoint; its signing secret is shown this once.",
        discussion: """
            Every audit event the filters select is delivered to URL, signed as Standard Webhooks specify. With no \
            --type, every event type; with no --channel, any channel. With --signing ed25519 receivers verify \
            with the endpoint's public key (shown by `airlock webhooks list`) and hold no secret.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The receiver's https URL (http to a loopback host in development mode).")
    var url: String

    @Option(name: .customLong("type"), help: ArgumentHelp("An event type prefix to deliver, e.g. airlock.credential. (repeatable).", valueName: "prefix"))
    var types: [String] = []

    @Option(name: .customLong("channel"), help: ArgumentHelp("A policy notify channel to deliver (repeatable).", valueName: "channel"))
    var channels: [String] = []

    @Option(help: "The least severity to deliver: info, low, medium, high or critical.")
    var minSeverity: String?

    @Option(help: "What the endpoint is for.")
    var description: String?

    @Option(help: "hmac (a whsec_ secret, the default) or ed25519 (a public key for receivers).")
    var signing: String?

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = [
                "url": .string(url), "event_types": .array(types.map { .string($0) }),
                "channels": .array(channels.map { .string($0) }),
            ]
            if let minSeverity { body["min_severity"] = .string(minSeverity) }
            if let description { body["description"] = .string(description) }
            if let signing { body["signing"] = .string(signing) }
            let reply = try await options.client().post("/v1/webhooks", .object(body))
            if options.json {
                print(reply.text)
                return
            }
            let endpoint = try reply.json()
            print("webhook \(endpoint["id"]?.shown ?? "?") added: \(endpoint["url"]?.shown ?? "?")")
            if let secret = endpoint["secret"]?.stringValue {
                print("signing secret (shown this once; receivers verify `webhook-signature` with it):")
                print(secret)
            } else if let key = endpoint["public_key"]?.stringValue {
                print("public key (receivers verify `v1a,` signatures with it): \(key)")
            }
        }
    }
}

/// `airlock webhooks list`: every endpoint, never a secret.
struct WebhooksListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List webhook endpoints.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let reply = try await options.client().get("/v1/webhooks")
            if options.json {
                print(reply.text)
                return
            }
            let items = try reply.json()["items"]?.arrayValue ?? []
            if items.isEmpty {
                print("no webhooks")
                return
            }
            for endpoint in items {
                let types = ClientOutput.strings(endpoint["event_types"])
                let channels = ClientOutput.strings(endpoint["channels"])
                var line = [
                    endpoint["id"]?.shown ?? "?", endpoint["status"]?.shown ?? "?", endpoint["url"]?.shown ?? "?",
                    "types: \(types.isEmpty ? "all" : types.joined(separator: ","))",
                    "channels: \(channels.isEmpty ? "any" : channels.joined(separator: ","))",
                    "min: \(endpoint["min_severity"]?.shown ?? "?")", "signing: \(endpoint["signing"]?.shown ?? "?")",
                ].joined(separator: "  ")
                if let reason = endpoint["disabled_reason"]?.shown { line += "  (\(reason))" }
                print(line)
            }
        }
    }
}

/// `airlock webhooks rm ID`: removes an endpoint; its undelivered events are dropped.
struct WebhooksRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a webhook endpoint (its undelivered events are dropped).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The webhook id (see `airlock webhooks list`).")
    var id: String

    func run() async throws {
        try await runClient {
            _ = try await options.client().send("DELETE", "/v1/webhooks/\(pathSegment(id))", body: nil)
            if options.json {
                print(#"{"removed":true}"#)
                return
            }
            print("webhook \(id) removed")
        }
    }
}

/// `airlock webhooks test ID`: queues an `airlock.webhook.test` event for that endpoint alone.
struct WebhooksTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Send a test event to one webhook endpoint.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The webhook id (see `airlock webhooks list`).")
    var id: String

    func run() async throws {
        try await runClient {
            let reply = try await options.client().post("/v1/webhooks/\(pathSegment(id))/test", .object([:]))
            if options.json {
                print(reply.text)
                return
            }
            let event = try reply.json()["event_id"]?.shown ?? "?"
            print("test event \(event) queued; the receiver sees it as webhook-id \(event) (failures show in `airlock webhooks list`)")
        }
    }
}

/// `airlock webhooks replay ID (--from SEQ [--to SEQ] | --since TIME [--until TIME] | --dead-letters)`.
struct WebhooksReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Deliver events to a webhook endpoint again: a sequence range, a time range, or its dead letters.",
        discussion: "A disabled endpoint is enabled again. Events keep their webhook-id, so receivers can deduplicate.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The webhook id (see `airlock webhooks list`).")
    var id: String

    @Option(help: "The first sequence number to deliver again.")
    var from: Int64?

    @Option(help: "The last sequence number to deliver again.")
    var to: Int64?

    @Option(help: "Events from this RFC 3339 time on.")
    var since: String?

    @Option(help: "Events before this RFC 3339 time.")
    var until: String?

    @Flag(help: "The endpoint's dead letters.")
    var deadLetters = false

    func validate() throws {
        let kinds = [from != nil || to != nil, since != nil || until != nil, deadLetters].filter { $0 }.count
        guard kinds == 1 else { throw ValidationError("give --from/--to, --since/--until, or --dead-letters") }
    }

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = [:]
            if let from { body["from_sequence"] = .int(from) }
            if let to { body["to_sequence"] = .int(to) }
            if let since { body["since"] = .string(since) }
            if let until { body["until"] = .string(until) }
            if deadLetters { body["dead_letters"] = .bool(true) }
            let reply = try await options.client().post("/v1/webhooks/\(pathSegment(id))/replay", .object(body))
            if options.json {
                print(reply.text)
                return
            }
            print("\(try reply.json()["queued"]?.shown ?? "?") events queued for webhook \(id)")
        }
    }
}

/// `airlock webhooks rotate ID [--window 24h]`: a new signing key; the old one keeps signing beside it for the window.
struct WebhooksRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Give a webhook endpoint a new signing key; the old one keeps signing beside it for a window.",
        discussion: """
            Until the window ends every delivery carries both signatures, space-separated, so receivers can switch \
            to the new secret (or public key) without missing a delivery. --window 0 drops the old key at once. \
            The new whsec_ secret is shown this once.
            """)

    @OptionGroup var options: ClientOptions

    @Argument(help: "The webhook id (see `airlock webhooks list`).")
    var id: String

    @Option(help: "How long the old key keeps signing: 30m, 24h, 7d at most, or 0.")
    var window = "24h"

    func windowSeconds() throws -> Int64 {
        window == "0" ? 0 : try ClientOutput.parseDuration(window, option: "--window")
    }

    func validate() throws { _ = try windowSeconds() }

    func run() async throws {
        try await runClient {
            let reply = try await options.client().post(
                "/v1/webhooks/\(pathSegment(id))/rotate", .object(["window_seconds": .int(try windowSeconds())]))
            if options.json {
                print(reply.text)
                return
            }
            let endpoint = try reply.json()
            if let ends = endpoint["rotation_ends_at"]?.shown {
                print("webhook \(id): new signing key; the old one signs beside it until \(ends)")
            } else {
                print("webhook \(id): new signing key; the old one no longer signs")
            }
            if let secret = endpoint["secret"]?.stringValue {
                print("new signing secret (shown this once):")
                print(secret)
            } else if let key = endpoint["public_key"]?.stringValue {
                print("new public key: \(key)")
            }
        }
    }
}
