import AirlockAudit
import AirlockStore

/// The SIEM sink (`audit.sink.*`): chained audit events as JSON Lines in a file or on standard output
/// (see `Docs/siem.md`).
public struct AuditSinkSettings: Sendable, Equatable {
    /// `audit.sink.path`: the file, or `-` for standard output.
    public var path: String
    /// `audit.sink.format`: `cloudevents` (default) or `ocsf`.
    public var format: AuditSinkFormat = .cloudevents
    /// `audit.sink.max_bytes`: a file is rotated before it would pass this size (default 100 MiB).
    public var maxBytes: Int64 = 100 * 1024 * 1024
    /// `audit.sink.keep`: rotated files kept (default 5).
    public var keep: Int = 5
    /// `audit.sink.name`: the sink's durable cursor in `audit_sinks` (default `default`). Replicas that share a name
    /// share the cursor: one writes at a time. Give each replica its own name for each to write every event.
    public var name: String = "default"

    /// A sink writing to `path` with the defaults.
    public init(path: String) {
        self.path = path
    }

    /// The settings `audit.sink.*`: nil when `audit.sink.path` is not set (no sink); the other keys without it are an
    /// error, since they would silently do nothing.
    static func load(_ reader: inout ConfigurationReader) throws(ConfigurationError) -> AuditSinkSettings? {
        let others = ["audit.sink.format", "audit.sink.max_bytes", "audit.sink.keep", "audit.sink.name"]
        guard let path = try reader.string("audit.sink.path") else {
            if let set = others.first(where: { reader.origin($0) != "default" }) {
                throw ConfigurationError(key: set, message: "is set (\(reader.origin(set))) but `audit.sink.path` is not")
            }
            return nil
        }
        guard !path.isEmpty, !path.hasSuffix("/") else { throw reader.invalid("audit.sink.path") }
        var settings = AuditSinkSettings(path: path)
        if let format = try reader.string("audit.sink.format") {
            guard let parsed = AuditSinkFormat(rawValue: format) else { throw reader.invalid("audit.sink.format") }
            settings.format = parsed
        }
        if let maxBytes = try reader.int("audit.sink.max_bytes", in: 4096...1_099_511_627_776) {
            settings.maxBytes = Int64(maxBytes)
        }
        if let keep = try reader.int("audit.sink.keep", in: 0...1000) { settings.keep = keep }
        if let name = try reader.string("audit.sink.name") {
            guard AuditSinkCursors.isValidName(name) else { throw reader.invalid("audit.sink.name") }
            settings.name = name
        }
        return settings
    }
}
