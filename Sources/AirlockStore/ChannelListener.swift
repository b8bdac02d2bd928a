import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Listens on one PostgreSQL notification channel, on a connection of its own, for as long as the calling task
/// runs: it starts once `isReady` (migrations current), reconnects after any failure with a growing pause, and
/// notices a connection that stops delivering without failing (a dropped idle TCP flow, a pooler that does not pass
/// notifications on) by notifying the channel itself through the pool every `heartbeatInterval`: a beat that does
/// not come back closes the connection and starts again.
public struct ChannelListener: Sendable {
    /// The payload of the listener's own heartbeats (never passed to `received`).
    public static let heartbeat = "heartbeat"

    let database: Database
    let channel: String
    let logger: Logger
    let heartbeatInterval: Duration
    let isReady: @Sendable () -> Bool
    /// The pause after the `n`th failure in a row: 100 ms doubling, at most 5 s, jittered so brokers that lost
    /// the same server do not all come back at the same instant.
    let reconnect = Backoff(base: .milliseconds(100), cap: .seconds(5))

    public init(
        database: Database, channel: String, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.database = database
        self.channel = channel
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.isReady = isReady
    }

    /// Runs until the task is cancelled. `listening(true)` comes once `LISTEN` is in place (every notification from
    /// then on arrives), `listening(false)` when it is lost; `received` gets every other notification's payload.
    public func run(
        listening: @escaping @Sendable (Bool) async -> Void, received: @escaping @Sendable (String) async -> Void
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
                    failures = 0
                    await listening(true)
                }, received: received)
            } catch {
                if Task.isCancelled { break }
                if failures == 0 || failures.isMultiple(of: 20) {
                    logger.warning("lost the connection listening on a notification channel; reconnecting", metadata: [
                        "channel": "\(channel)", "error": "\(describeDatabaseError(error))",
                    ])
                }
            }
            await listening(false)
            failures += 1
            try? await Task.sleep(for: reconnect.delay(attempt: failures, using: &generator))
        }
        await listening(false)
    }

    private func listen(
        onListening: () async -> Void, received: @escaping @Sendable (String) async -> Void
    ) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try database.url.connectionConfiguration(), id: 0x70C, logger: logger)
        do {
            try await connection.listen(on: channel) { notifications in
                let heard = LastHeard()
                await onListening()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in notifications {
                            if notification.payload == Self.heartbeat {
                                heard.mark()
                            } else {
                                await received(notification.payload)
                            }
                        }
                        throw ListenerSilent()
                    }
                    group.addTask { try await beat(until: heard) }
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

    /// Notifies the channel every `heartbeatInterval` through the pool; throws when a beat did not come back.
    private func beat(until heard: LastHeard) async throws {
        while true {
            try await Task.sleep(for: heartbeatInterval)
            let sent = ContinuousClock.now
            try await database.client.query("SELECT pg_notify(\(channel), \(Self.heartbeat))", logger: logger)
            try await Task.sleep(for: heartbeatInterval)
            guard heard.instant >= sent else { throw ListenerSilent() }
        }
    }
}

/// When the listener last heard its own heartbeat.
final class LastHeard: Sendable {
    private let value = Mutex(ContinuousClock.now)
    var instant: ContinuousClock.Instant { value.withLock { $0 } }
    func mark() { value.withLock { $0 = .now } }
}

/// The listening connection stopped delivering notifications.
struct ListenerSilent: Error, CustomStringConvertible {
    var description: String { "the listening connection stopped hearing its own heartbeat" }
}
