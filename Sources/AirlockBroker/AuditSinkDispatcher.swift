import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import Metrics
import Synchronization

/// Copies the audit chain to a SIEM sink (``AuditSink``: a JSON Lines file or stdout), in sequence order, nothing
/// lost (issue 14).
///
/// Each pass claims the sink's durable cursor (``AuditSinkCursors``: one broker writes a sink at a time), reads the
/// chained events after it, has the sink write them and sync, and only then advances the cursor: a restart, or
/// another replica taking over, resumes after the last event written (at-least-once: a crash between the write and
/// the cursor's advance leaves those events to be written again, identical). The dispatcher wakes when events are
/// chained (``wake()``, from the `airlock_audit_chained` notification) and polls every `fallback` besides, which also
/// keeps its claim alive.
///
/// A sink that cannot write (disk full, permission, a log shipper gone) is retried with ``backoff``, forever, with a
/// clear error in the log; nothing on a request's path waits for it (events commit and chain regardless).
public final class AuditSinkDispatcher: Sendable {
    /// The sink's name in `audit_sinks` (`audit.sink.name`).
    public let name: String
    let sink: any AuditSink
    let cursors: AuditSinkCursors
    let feed: AuditFeed
    /// The wait after the n-th failure in a row.
    let backoff: Backoff
    /// Events read and written per pass.
    public let batchSize: Int
    let logger: Logger
    public let scheduler: ExpiryScheduler
    private let failures = Mutex(0)
    private let written = Counter(label: "airlock_audit_sink_events_total")
    private let failed = Counter(label: "airlock_audit_sink_failures_total")
    private let position = Gauge(label: "airlock_audit_sink_sequence")

    public init(
        name: String, sink: any AuditSink, cursors: AuditSinkCursors, feed: AuditFeed, clock: any WallClock,
        backoff: Backoff = Backoff(base: .seconds(1), cap: .seconds(60)), batchSize: Int = 500, logger: Logger
    ) {
        self.name = name
        self.sink = sink
        self.cursors = cursors
        self.feed = feed
        self.backoff = backoff
        self.batchSize = max(1, min(batchSize, 1000))
        self.logger = logger
        self.scheduler = ExpiryScheduler(clock: clock)
    }

    /// New events may have been chained: look again now.
    public func wake() { scheduler.wake() }

    /// Failed passes in a row (0 once a pass succeeds).
    public var consecutiveFailures: Int { failures.withLock { $0 } }

    /// Writes until cancelled, while `isReady`: at once when woken, else every `fallback`; after a failure, again
    /// after the backoff. Gives the sink's claim up when it ends.
    public func run(fallback: Duration, isReady: @escaping @Sendable () -> Bool) async {
        while !Task.isCancelled {
            let ready = isReady()
            if ready {
                do {
                    try await drain()
                } catch {
                    let attempt = failures.withLock { count in
                        count += 1
                        return count
                    }
                    failed.increment()
                    var generator = SystemRandomNumberGenerator()
                    let delay = backoff.delay(attempt: attempt - 1, using: &generator)
                    report(error, attempt: attempt, retryIn: delay)
                    // Wakes do not cut the backoff short: a sink that cannot write is not tried at every chain pass.
                    try? await Task.sleep(for: delay)
                    continue
                }
            }
            await scheduler.wait(due: nil, fallback: ready ? fallback : min(fallback, .milliseconds(100)))
        }
        // The loop ends by cancellation, which would cancel the release's query too: it runs in a task of its own.
        let cursors = self.cursors, name = self.name, logger = self.logger
        await Task {
            do {
                try await cursors.release(name, logger: logger)
            } catch {
                logger.debug("audit sink claim not released; it lapses", metadata: ["error": "\(error)"])
            }
        }.value
    }

    /// Writes every chained event after the cursor, a batch at a time; returns how many (0 when another broker
    /// holds the sink, or there was nothing new).
    @discardableResult
    public func drain() async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let count = try await pass()
            total += count
            if count < batchSize { break }
        }
        let recovered = failures.withLock { count in
            defer { count = 0 }
            return count
        }
        if recovered > 0 {
            logger.notice(
                "audit sink writes again", metadata: ["sink": "\(sink.destination)", "failures": "\(recovered)"])
        }
        return total
    }

    /// One batch: claim, read, write and sync, advance. Returns the events written.
    func pass() async throws -> Int {
        let after: Int64
        do {
            guard let cursor = try await cursors.claim(name, logger: logger) else { return 0 }
            after = cursor
        } catch {
            throw DispatchFailure.database(error)
        }
        let events: [JSONValue]
        do {
            events = try await feed.page(after: after, type: nil, limit: batchSize)
        } catch {
            throw DispatchFailure.database(error)
        }
        guard let through = events.last?["sequence"]?.intValue else { return 0 }
        do {
            try await sink.write(events)
        } catch {
            throw DispatchFailure.sink(error)
        }
        let advanced: Bool
        do {
            advanced = try await cursors.advance(name, to: through, logger: logger)
        } catch {
            throw DispatchFailure.database(error)
        }
        if !advanced {
            logger.warning(
                "audit sink claim was lost while writing: another broker may write the same events again",
                metadata: ["sink": "\(sink.destination)", "sequence": "\(through)"])
        }
        written.increment(by: events.count)
        position.record(Double(through))
        return events.count
    }

    private func report(_ error: any Error, attempt: Int, retryIn delay: Duration) {
        var metadata: Logger.Metadata = [
            "sink": "\(sink.destination)", "name": "\(name)", "attempt": "\(attempt)", "retry_in": "\(delay)",
        ]
        let message: Logger.Message
        switch error {
        case DispatchFailure.sink(let cause):
            message = "audit sink cannot write; retrying with backoff (events are kept in the database meanwhile)"
            metadata["error"] = "\(cause)"
        case DispatchFailure.database(let cause):
            message = "audit sink cannot reach the database; retrying with backoff"
            metadata["error"] = "\(describeDatabaseError(cause))"
        default:
            message = "audit sink failed; retrying with backoff"
            metadata["error"] = "\(error)"
        }
        // Every failure of a first run of them, then one in ten: a sink down for hours does not flood the log.
        if attempt <= 5 || attempt.isMultiple(of: 10) {
            logger.error(message, metadata: metadata)
        } else {
            logger.debug(message, metadata: metadata)
        }
    }

    /// Which side of a pass failed, for the log.
    enum DispatchFailure: Error {
        case database(any Error)
        case sink(any Error)
    }
}
