import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Listens on one PostgreSQL notification channel, on a connection of its own, for as long as the calling task
/// runs: it starts once `isReady` (migrations current), reconnects after any failure with a growing pause, and
/// notices a connection that stops delivering without failing (a dropped idle TCP flow, a pooler that does not pass
/// notifications on) by notifying the channel itself through the pool every `heartbeatInterval`: a beat that has not
/// come back one interval later closes the connection and starts again.
///
/// Each beat carries a fresh random nonce, so it cannot be forged ahead of time by another role that can `NOTIFY`;
/// hearing one's own beat proves that every notification committed before the beat was sent has been delivered and
/// handled (PostgreSQL delivers notifications in commit order and this listener handles them one at a time), which
/// `confirmed` reports with the instant the beat was sent.
public struct ChannelListener: Sendable {
    /// The prefix of heartbeat payloads (`heartbeat NONCE`, never passed to `received`).
    public static let heartbeat = "heartbeat"

    let database: Database
    let channel: String
    let logger: Logger
    let heartbeatInterval: Duration
    let isReady: @Sendable () -> Bool
    /// Sends one heartbeat payload on the channel (by default `pg_notify` through the pool).
    let sendBeat: @Sendable (_ payload: String) async throws -> Void
    /// The pause after the `n`th failure in a row: 100 ms doubling, at most 5 s, jittered so brokers that lost
    /// the same server do not all come back at the same instant.
    let reconnect = Backoff(base: .milliseconds(100), cap: .seconds(5))

    /// Creates a listener. `sendBeat` replaces the default heartbeat (`SELECT pg_notify(channel, payload)` through
    /// the pool), e.g. to record the beat in the same transaction.
    public init(
        database: Database, channel: String, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isReady: @escaping @Sendable () -> Bool = { true },
        sendBeat: (@Sendable (_ payload: String) async throws -> Void)? = nil
    ) {
        self.database = database
        self.channel = channel
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.isReady = isReady
        self.sendBeat = sendBeat ?? { [database, channel, logger] payload in
            try await database.client.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
        }
    }

    /// Runs until the task is cancelled. `listening(true)` comes once `LISTEN` is in place (every notification from
    /// then on arrives), `listening(false)` when it is lost (an error thrown by `listening(true)` drops the connection and
    /// starts again); `received` gets every other notification's payload;
    /// `confirmed(sent)` says that everything committed before `sent` has been handled.
    public func run(
        listening: @escaping @Sendable (Bool) async throws -> Void, received: @escaping @Sendable (String) async -> Void,
        confirmed: @escaping @Sendable (ContinuousClock.Instant) async -> Void = { _ in }
    ) async {
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            guard isReady() else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                try await listen(onListening: {
                    try await listening(true)
                    failures = 0
                }, received: received, confirmed: confirmed)
            } catch {
                if Task.isCancelled { break }
                if failures == 0 || failures.isMultiple(of: 20) {
                    logger.warning("lost the connection listening on a notification channel; reconnecting", metadata: [
                        "channel": "\(channel)", "error": "\(describeDatabaseError(error))",
                    ])
                }
            }
            try? await listening(false)
            failures += 1
            try? await Task.sleep(for: reconnect.delay(attempt: failures, using: &generator))
        }
        try? await listening(false)
    }

    private func listen(
        onListening: () async throws -> Void, received: @escaping @Sendable (String) async -> Void,
        confirmed: @escaping @Sendable (ContinuousClock.Instant) async -> Void
    ) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try database.url.connectionConfiguration(), id: 0x70C, logger: logger)
        do {
            try await connection.listen(on: channel) { notifications in
                let beats = Beats()
                try await onListening()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in notifications {
                            let payload = notification.payload
                            if payload.hasPrefix(Self.heartbeat) {
                                if let sent = beats.heard(payload) { await confirmed(sent) }
                            } else {
                                await received(payload)
                            }
                        }
                        throw ListenerSilent()
                    }
                    group.addTask { try await beat(beats) }
                    do {
                        try await group.next()
                    } catch {
                        try? await connection.close()  // ends the other task, whatever it waits on
                        group.cancelAll()
                        throw error
                    }
                }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// Sends a beat every `heartbeatInterval`; throws when a beat has not come back one interval after it was sent.
    private func beat(_ beats: Beats) async throws {
        while true {
            let payload = beats.next()
            try await sendBeat(payload)
            try await Task.sleep(for: heartbeatInterval)
            guard beats.wasHeard(payload) else { throw ListenerSilent() }
        }
    }
}

/// The heartbeats one listening connection sent and heard.
final class Beats: Sendable {
    private struct State {
        var pending: [String: ContinuousClock.Instant] = [:]
        var heard: Set<String> = []
    }
    private let state = Mutex(State())

    /// A new beat's payload (`heartbeat` and a random nonce), recorded as sent now.
    func next() -> String {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.joined(separator: "-")
        let payload = "\(ChannelListener.heartbeat) \(nonce)"
        state.withLock { state in
            state.heard.removeAll()
            state.pending[payload] = .now
        }
        return payload
    }

    /// Marks `payload` heard and returns when it was sent; nil for a beat this connection did not send.
    func heard(_ payload: String) -> ContinuousClock.Instant? {
        state.withLock { state in
            guard let sent = state.pending.removeValue(forKey: payload) else { return nil }
            state.heard.insert(payload)
            state.pending = state.pending.filter { $0.value > sent }  // older beats can no longer arrive
            return sent
        }
    }

    /// Whether `payload` has come back.
    func wasHeard(_ payload: String) -> Bool {
        state.withLock { $0.heard.contains(payload) }
    }
}

/// The listening connection stopped delivering notifications.
struct ListenerSilent: Error, CustomStringConvertible {
    var description: String { "the listening connection stopped hearing its own heartbeat" }
}
