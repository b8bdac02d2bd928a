import AirlockAudit
import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation

/// `airlock audit export --format ocsf|cloudevents [--after SEQ] [--through SEQ]`: the chained audit events as JSON
/// Lines on stdout, read from the database (to backfill a SIEM, or to compare with a sink).
struct AuditExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print the audit chain from the database as JSON Lines (CloudEvents or OCSF 1.8).",
        discussion: """
            Writes what the SIEM sink writes (audit.sink.format): `cloudevents`, each event as chained (with sequence, \
            prevhash and hash), or `ocsf`, each event's OCSF records. Events up to the chain's head when the export \
            starts (or --through), after --after.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "The format of the lines: cloudevents or ocsf.")
    var format: String = AuditSinkFormat.cloudevents.rawValue

    @Option(help: "Start after this sequence number (default 0: from the first event).")
    var after: Int64 = 0

    @Option(help: "Stop after this sequence number (default: the chain's head when the export starts).")
    var through: Int64?

    func validate() throws {
        guard AuditSinkFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be cloudevents or ocsf")
        }
        guard after >= 0 else { throw ValidationError("--after must be 0 or more") }
        if let through, through < after { throw ValidationError("--through must not be below --after") }
    }

    func run() async throws {
        let format = AuditSinkFormat(rawValue: self.format) ?? .cloudevents
        let after = self.after, through = self.through
        try await options.withDatabase { database, _, logger in
            let feed = AuditFeed(database: database, logger: logger)
            let head: Int64
            if let through {
                head = through
            } else {
                let rows = try await database.client.query(
                    "SELECT coalesce(max(sequence), 0)::int8 FROM audit_events", logger: logger)
                var last: Int64 = 0
                for try await sequence in rows.decode(Int64.self) { last = sequence }
                head = last
            }
            var cursor = after
            while cursor < head {
                let page = try await feed.page(after: cursor, type: nil, limit: 1000)
                var text = ""
                for event in page {
                    guard let sequence = event["sequence"]?.intValue, sequence <= head else { break }
                    for line in try format.lines(for: event) { text += line + "\n" }
                    cursor = sequence
                }
                FileHandle.standardOutput.write(Data(text.utf8))
                if page.count < 1000 { break }
            }
        }
    }
}
