import AirlockCore
import AirlockServer
import ArgumentParser
import Foundation

/// `airlock ssf streams …` (a receiver's streams of Airlock's security events, over the API) and
/// `airlock ssf transmitters check FILE` (the transmitters a broker receives from, checked offline).
struct SharedSignalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssf",
        abstract: "Shared Signals: streams of Airlock's security events, and the transmitters it receives from.",
        subcommands: [StreamsCommand.self, TransmittersCommand.self])

    struct StreamsCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "streams",
            abstract: "Create, list, pause, verify and delete Shared Signals streams (ssf.manage tokens; ssf.read lists).",
            subcommands: [Add.self, List.self, Status.self, Verify.self, Remove.self])
    }

    /// `airlock ssf streams add (--push URL [--authorization H] | --poll) --event URI... [--aud A] [--description D]`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Create a stream: SETs pushed to --push URL (RFC 8935), or kept for polling with --poll (RFC 8936).",
            discussion: """
                --event takes a CAEP or SSF event type, by URI or by short name: session-revoked, credential-change, \
                risk-level-change, verification, stream-updated. The authorization header is sent with every push \
                and never shown again; give it with --authorization-file to keep it off the command line.
                """)

        @OptionGroup var options: ClientOptions

        @Option(help: "The receiver's URL for pushed SETs (https; http on loopback in development mode).")
        var push: String?

        @Flag(help: "A poll stream: the receiver polls the URL the answer gives.")
        var poll = false

        @Option(help: "A file holding the Authorization header value each push carries (e.g. `Bearer …`).")
        var authorizationFile: String?

        @Option(name: .customLong("event"), help: "An event type to receive (repeatable).")
        var events: [String] = []

        @Option(help: "The SETs' audience (default: the push URL, or your principal id for poll).")
        var aud: String?

        @Option(help: "What the stream is for.")
        var description: String?

        func run() async throws {
            try await runClient {
                guard (push != nil) != poll else {
                    throw ValidationError("give exactly one of --push URL and --poll")
                }
                var delivery: [String: JSONValue] = [
                    "method": .string(poll ? SharedSignalsStream.Delivery.pollMethod : SharedSignalsStream.Delivery.pushMethod),
                ]
                if let push { delivery["endpoint_url"] = .string(push) }
                if let authorizationFile {
                    let header = String(decoding: try SecretFile.read(authorizationFile), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    delivery["authorization_header"] = .string(header)
                }
                var body: [String: JSONValue] = [
                    "delivery": .object(delivery), "events_requested": .array(try events.map { .string(try Self.uri($0)) }),
                ]
                if let aud { body["aud"] = .string(aud) }
                if let description { body["description"] = .string(description) }
                let reply = try await options.client().post("/ssf/streams", .object(body))
                if options.json {
                    print(reply.text)
                    return
                }
                let stream = try reply.json()
                print("stream \(stream["stream_id"]?.shown ?? "?") created: \(describe(stream))")
            }
        }

        /// `name` as an event type URI: a URI as it is, a short name of an event Airlock knows as its URI.
        static func uri(_ name: String) throws -> String {
            if name.contains(":") { return name }
            guard let event = SharedSignalEvent(shortName: name) else {
                throw ValidationError(
                    "unknown event `\(name)`; give a URI, or one of "
                        + SharedSignalsTransmitter.supportedEvents.map(\.shortName).joined(separator: ", "))
            }
            return event.rawValue
        }
    }

    /// `airlock ssf streams list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the streams you may read.")

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await runClient {
                let reply = try await options.client().get("/ssf/streams")
                if options.json {
                    print(reply.text)
                    return
                }
                let streams = try reply.json().arrayValue ?? []
                if streams.isEmpty { print("no streams") }
                for stream in streams {
                    print("\(stream["stream_id"]?.shown ?? "?")  \(describe(stream))")
                }
            }
        }
    }

    /// `airlock ssf streams status ID [--set enabled|paused|disabled] [--reason R]`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Show a stream's status, or set it with --set (paused streams keep their events).")

        @OptionGroup var options: ClientOptions

        @Argument(help: "The stream id.")
        var id: String

        @Option(help: "enabled, paused or disabled.")
        var set: String?

        @Option(help: "Why (with --set).")
        var reason: String?

        func run() async throws {
            try await runClient {
                let client = try options.client()
                let reply: ClientHTTP.Reply
                if let set {
                    var body: [String: JSONValue] = ["stream_id": .string(id), "status": .string(set)]
                    if let reason { body["reason"] = .string(reason) }
                    reply = try await client.post("/ssf/status", .object(body))
                } else {
                    reply = try await client.get("/ssf/status?stream_id=\(pathSegment(id))")
                }
                if options.json {
                    print(reply.text)
                    return
                }
                let status = try reply.json()
                var line = "stream \(id): \(status["status"]?.shown ?? "?")"
                if let reason = status["reason"]?.shown { line += " (\(reason))" }
                print(line)
            }
        }
    }

    /// `airlock ssf streams verify ID [--state S]`.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Send a verification SET on a stream, echoing --state.")

        @OptionGroup var options: ClientOptions

        @Argument(help: "The stream id.")
        var id: String

        @Option(help: "What the verification SET echoes (default: a random value).")
        var state: String?

        func run() async throws {
            try await runClient {
                let state = self.state ?? UUID().uuidString.lowercased()
                _ = try await options.client().post(
                    "/ssf/verify", .object(["stream_id": .string(id), "state": .string(state)]))
                print(options.json ? #"{"state":"\#(state)"}"# : "verification queued on stream \(id), state \(state)")
            }
        }
    }

    /// `airlock ssf streams rm ID`.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a stream (its undelivered SETs are dropped).")

        @OptionGroup var options: ClientOptions

        @Argument(help: "The stream id.")
        var id: String

        func run() async throws {
            try await runClient {
                _ = try await options.client().send("DELETE", "/ssf/streams?stream_id=\(pathSegment(id))", body: nil)
                print(options.json ? #"{"deleted":true}"# : "stream \(id) deleted")
            }
        }
    }

    struct TransmittersCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transmitters", abstract: "The Shared Signals transmitters a broker receives from.",
            subcommands: [Check.self])
    }

    /// `airlock ssf transmitters check FILE`: reads `ssf.receiver.config_file` as the broker would, and shows what each
    /// transmitter's events become. Offline: nothing is fetched, no token is shown.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check a receiver configuration file (ssf.receiver.config_file) and show what each event becomes.")

        @Argument(help: "The file.")
        var file: String

        @Flag(help: "One JSON object.")
        var json = false

        func run() async throws {
            let configuration: SharedSignalsReceiverConfiguration
            do {
                configuration = try SharedSignalsReceiverConfiguration.load(fromFile: file)
            } catch {
                throw ValidationError("\(file): \(error.message)")
            }
            var transmitters: [JSONValue] = []
            for transmitter in configuration.transmitters {
                let keys: String
                switch transmitter.jwks {
                case .file(let path): keys = path
                case .url(let url): keys = url.absoluteString
                case .document: keys = "inline"
                }
                var events: [String: JSONValue] = [:]
                for event in SharedSignalEvent.allCases where event.defaultSignal != nil {
                    events[event.shortName] = transmitter.signal(for: event).map {
                        ["signal": .string($0.name), "severity": .string($0.severity.rawValue), "ttl_seconds": .int($0.ttlSeconds)]
                    } ?? "ignored"
                }
                transmitters.append([
                    "issuer": .string(transmitter.issuer), "keys": .string(keys),
                    "audiences": .array(transmitter.audiences.map { .string($0) }),
                    "subject_issuer": transmitter.subjectIssuer.map(JSONValue.string) ?? .null,
                    "email_is_subject": .bool(transmitter.emailIsSubject),
                    "max_age_seconds": .int(Int64(transmitter.maximumAgeSeconds)), "events": .object(events),
                ])
            }
            if json {
                print(JSONValue.object(["transmitters": .array(transmitters)]).canonicalString())
                return
            }
            print("\(file): \(transmitters.count) transmitter(s), valid")
            for transmitter in transmitters {
                print("\(transmitter["issuer"]?.shown ?? "?")  keys \(transmitter["keys"]?.shown ?? "?")  "
                    + "aud \(transmitter["audiences"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? "")")
                for (event, mapping) in (transmitter["events"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    if let name = mapping["signal"]?.stringValue {
                        print("  \(event) → \(name) (\(mapping["severity"]?.shown ?? "?"), \(mapping["ttl_seconds"]?.intValue ?? 0) s)")
                    } else {
                        print("  \(event) → ignored")
                    }
                }
            }
        }
    }
}

/// One line about a stream: its delivery, what it receives, its audience.
private func describe(_ stream: JSONValue) -> String {
    let method = stream["delivery"]?["method"]?.stringValue == SharedSignalsStream.Delivery.pollMethod ? "poll" : "push"
    let events = (stream["events_delivered"]?.arrayValue ?? []).compactMap(\.stringValue)
        .map { SharedSignalEvent(rawValue: $0)?.shortName ?? $0 }
    let audience = stream["aud"]?.shown
        ?? (stream["aud"]?.arrayValue ?? []).compactMap(\.shown).joined(separator: ",")
    return "\(method) \(stream["delivery"]?["endpoint_url"]?.shown ?? "?")  events \(events.joined(separator: ","))"
        + "  aud \(audience)"
}
