import Logging
import Synchronization

/// Collects every log line (message and metadata) at trace level, so a test can scan them for secrets.
public final class CapturedLogs: Sendable {
    public init() {}

    private let lines = Mutex<[String]>([])

    public var all: [String] { lines.withLock { $0 } }

    /// Every line, one per line.
    public var text: String { all.joined(separator: "\n") }

    public func logger(label: String = "airlock.captured") -> Logger {
        let sink = self
        var logger = Logger(label: label) { label in Handler(label: label, sink: sink) }
        logger.logLevel = .trace
        return logger
    }

    public func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let label: String
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(event.level) \(label) \(event.message) \(merged)")
        }
    }
}
