import AirlockCore
import Logging
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SIEM sink: chained audit events as JSON Lines, in CloudEvents or OCSF (``AuditSinkFormat``), appended to a file
/// that rotates by size (``JSONLinesFile``) or to standard output (path `-`).
///
/// Writing blocks (a slow disk, a full pipe to a log shipper), so it runs on a thread of its own, started at the first
/// write and stopped by ``shutdown()``: a stuck sink holds up only itself, never the concurrency pool that serves
/// requests. An event the OCSF mapping refuses (not an audit event as Airlock stores it; none is expected) is left out
/// of an `ocsf` sink with an error in the log naming its sequence, rather than stopping the sink for good.
public final class JSONLinesSink: AuditSink {
    /// The path of standard output in `audit.sink.path`.
    public static let standardOutputPath = "-"

    public let format: AuditSinkFormat
    let file: JSONLinesFile
    let productVersion: String
    let logger: Logger
    private let pool = Mutex<NIOThreadPool?>(nil)

    /// A sink writing `format` to `path` (`-`: standard output), rotating a file when it would pass `maxBytes`
    /// and keeping `keep` rotated files (`path.1` the newest).
    ///
    /// - Parameters:
    ///   - mode: The permissions of a file the sink creates (default 0640).
    ///   - productVersion: `metadata.product.version` of OCSF records.
    public init(
        path: String, format: AuditSinkFormat, maxBytes: Int64 = 100 * 1024 * 1024, keep: Int = 5,
        mode: UInt32 = 0o640, productVersion: String = AirlockVersion.current, logger: Logger
    ) {
        if path == Self.standardOutputPath {
            // A log shipper that goes away must give the sink an error (EPIPE) to retry, not end the broker.
            signal(SIGPIPE, SIG_IGN)
            file = JSONLinesFile(.standardOutput)
        } else {
            file = JSONLinesFile(.file(path: path, maxBytes: max(1, maxBytes), keep: max(0, keep), mode: mode_t(mode)))
        }
        self.format = format
        self.productVersion = productVersion
        self.logger = logger
    }

    public var destination: String { file.destination }

    public func write(_ events: [JSONValue]) async throws {
        var lines: [String] = []
        lines.reserveCapacity(events.count)
        for event in events {
            do {
                lines += try format.lines(for: event, productVersion: productVersion)
            } catch {
                logger.error("audit event left out of the ocsf sink: it cannot be mapped", metadata: [
                    "sequence": "\(event["sequence"]?.intValue.map(String.init) ?? "?")", "error": "\(error)",
                    "sink": "\(destination)",
                ])
            }
        }
        let file = self.file, batch = lines
        let outcome = try await threadPool().runIfActive { try file.append(batch) }
        if outcome.repairedBytes > 0 {
            logger.warning(
                "audit sink: a partial last line (an interrupted write) was cut off; its events are written again",
                metadata: ["sink": "\(destination)", "bytes": "\(outcome.repairedBytes)"])
        }
        if outcome.rotations > 0 {
            logger.info("audit sink rotated", metadata: ["sink": "\(destination)", "rotations": "\(outcome.rotations)"])
        }
    }

    /// Closes the file and stops the sink's thread (a later write starts it again).
    public func shutdown() async {
        let running = pool.withLock { pool in
            defer { pool = nil }
            return pool
        }
        if let running { try? await running.shutdownGracefully() }
        file.closeFile()
    }

    /// The sink's own thread, started on first use.
    private func threadPool() -> NIOThreadPool {
        pool.withLock { pool in
            if let pool { return pool }
            let started = NIOThreadPool(numberOfThreads: 1)
            started.start()
            pool = started
            return started
        }
    }
}
