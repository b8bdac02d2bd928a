import AirlockCore
import ArgumentParser
import Foundation

/// `airlock audit tail [--type T] [--after SEQ] [--follow]`: the audit chain from the broker (`GET /v1/audit`), for
/// auditors and admins.
struct AuditTailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Show the audit chain from the broker (auditors, admins); --follow keeps polling.",
        discussion: "`--json` prints each event as one JSON line (CloudEvents with sequence, prevhash and hash).")

    @OptionGroup var options: ClientOptions

    @Option(help: "Only events of this type, or of a prefix ending in `.` (airlock.credential.).")
    var type: String?

    @Option(help: "Start after this sequence number (default: the last --limit events).")
    var after: Int64?

    @Option(help: "Events per page.")
    var limit: Int = 50

    @Flag(help: "Keep polling for new events until interrupted.")
    var follow = false

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() async throws {
        try await runClient {
            let client = try options.client()
            var cursor = after ?? 0
            if after == nil {
                // The newest page: find the end first, then show the last `limit` events.
                var end: Int64 = 0
                while true {
                    let page = try await fetch(client, after: end, limit: 1000)
                    guard let next = page.nextAfter, next > end else { break }
                    end = next
                }
                cursor = max(0, end - Int64(limit))
            }
            repeat {
                let page = try await fetch(client, after: cursor, limit: limit)
                for event in page.items { print(options.json ? event.canonicalString() : Self.line(event)) }
                if let next = page.nextAfter { cursor = next }
                if page.items.count < limit, follow { try await Task.sleep(for: .seconds(1)) }
            } while follow
        }
    }

    private func fetch(_ client: ClientHTTP, after: Int64, limit: Int) async throws -> (items: [JSONValue], nextAfter: Int64?) {
        var path = "/v1/audit?after=\(after)&limit=\(limit)"
        if let type { path += "&type=\(pathSegment(type))" }
        let body = try await client.get(path).json()
        return (body["items"]?.arrayValue ?? [], body["next_after"]?.intValue)
    }

    /// `SEQ TIME TYPE key facts`: one line a person can scan.
    static func line(_ event: JSONValue) -> String {
        let data = event["data"]
        let facts = ["principal", "resource", "role", "username", "lease_id", "reason", "error"].compactMap { key in
            data?[key]?.shown.map { "\(key)=\($0)" }
        }
        return [event["sequence"]?.intValue.map(String.init) ?? "?", event["time"]?.shown ?? "?",
                event["type"]?.shown ?? "?"].joined(separator: " ")
            + (facts.isEmpty ? "" : " " + facts.joined(separator: " "))
    }
}
