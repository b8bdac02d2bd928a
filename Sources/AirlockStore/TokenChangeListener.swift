import AirlockCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The token caches of one broker: `alk_` authentications and active `alkc_` credential tokens.
public struct TokenCaches: Sendable {
    public let apiTokens: TokenCache<ApiTokenRecord>
    public let credentialTokens: TokenCache<ActiveCredentialToken>

    public init(maximumAge: Duration = .seconds(30)) {
        apiTokens = TokenCache(maximumAge: maximumAge)
        credentialTokens = TokenCache(maximumAge: maximumAge)
    }

    /// Forgets everything (a token may have changed).
    public func clear() {
        apiTokens.clear()
        credentialTokens.clear()
    }

    func setLive(_ live: Bool) {
        apiTokens.setLive(live)
        credentialTokens.setLive(live)
    }
}

/// Keeps ``TokenCaches`` honest: listens on `airlock_token_changes` on a connection of its own and clears the
/// caches on every notification. The caches answer only while it listens; when the connection fails they are
/// switched off (every lookup goes to the database) until it listens again, retrying with a growing pause.
/// It starts listening only once `isDatabaseReady` (migrations current, so the notifying triggers exist).
///
/// A connection can die silently (a dropped idle TCP flow, a pooler that does not pass notifications on): every
/// `heartbeatInterval` the listener notifies itself through the pool and, if that does not come back in time,
/// switches the caches off and connects again.
public struct TokenChangeListener: Service {
    public static let channel = "airlock_token_changes"
    static let heartbeat = "heartbeat"

    let database: Database
    let caches: TokenCaches
    let logger: Logger
    let isDatabaseReady: @Sendable () -> Bool
    let heartbeatInterval: Duration

    public init(
        database: Database, caches: TokenCaches, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.database = database
        self.caches = caches
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.isDatabaseReady = isDatabaseReady
    }

    public func run() async throws {
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard isDatabaseReady() else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
                continue
            }
            do {
                try await cancelWhenGracefulShutdown { try await listen() }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                if failures == 0 || failures.isMultiple(of: 20) {
                    logger.warning("token change listener lost its connection; token caches are off until it is back",
                                   metadata: ["error": "\(describeDatabaseError(error))"])
                }
            }
            caches.setLive(false)
            failures += 1
            let pause = Duration.milliseconds(min(5_000, 100 * (1 << min(failures, 6))))
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
        caches.setLive(false)
    }

    private func listen() async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try database.url.connectionConfiguration(), id: 0x70C, logger: logger)
        do {
            try await connection.listen(on: Self.channel) { notifications in
                let heard = LastHeard()
                caches.setLive(true)  // from here on every change reaches this loop
                logger.debug("listening for token changes")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in notifications {
                            if notification.payload == Self.heartbeat {
                                heard.mark()
                            } else {
                                caches.clear()
                            }
                        }
                        throw ListenerSilent()
                    }
                    group.addTask { try await beat(until: heard) }
                    do {
                        try await group.next()
                    } catch {
                        caches.setLive(false)
                        try? await connection.close()  // ends the other task, whatever it waits on
                        group.cancelAll()
                        throw error
                    }
                }
            }
        } catch {
            caches.setLive(false)
            try? await connection.close()
            throw error
        }
        caches.setLive(false)
        try? await connection.close()
    }

    /// Notifies the channel every `heartbeatInterval` through the pool; throws when a beat did not come back.
    private func beat(until heard: LastHeard) async throws {
        while true {
            try await Task.sleep(for: heartbeatInterval)
            let sent = ContinuousClock.now
            try await database.client.query("SELECT pg_notify(\(Self.channel), \(Self.heartbeat))", logger: logger)
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

/// The LISTEN connection stopped delivering notifications.
struct ListenerSilent: Error, CustomStringConvertible {
    var description: String { "the token change listener stopped hearing its own heartbeat" }
}
