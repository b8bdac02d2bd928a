import AirlockCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The token caches of one broker: `alk_` authentications, `alkc_` credential tokens that are active, and `alk_`
/// tokens known not to exist (so a flood of well-formed unknown tokens does not cost a query each).
public struct TokenCaches: Sendable {
    public let apiTokens: TokenCache<ApiTokenRecord>
    public let credentialTokens: TokenCache<ActiveCredentialToken>
    /// Hashes of `alk_` tokens the database did not know, bounded; forgotten whenever an `alk_` token is created.
    public let unknownApiTokens: TokenCache<UnknownToken>

    /// Caches whose entries live at most `maximumAge`; at most `unknownCapacity` unknown tokens are remembered.
    public init(maximumAge: Duration = .seconds(30), unknownCapacity: Int = 10_000) {
        apiTokens = TokenCache(maximumAge: maximumAge)
        credentialTokens = TokenCache(maximumAge: maximumAge)
        unknownApiTokens = TokenCache(maximumAge: maximumAge, capacity: unknownCapacity)
    }

    /// Forgets everything (a token may have changed).
    public func clear() {
        each { $0.clear() }
    }

    func setLive(_ live: Bool) { each { $0.setLive(live) } }
    func confirm(through instant: ContinuousClock.Instant) { each { $0.confirm(through: instant) } }
    func switchOff(_ off: Bool) { each { $0.switchOff(off) } }
    func setWindow(_ window: Duration) { each { $0.setWindow(window) } }

    private func each(_ body: (any TokenCacheControl) -> Void) {
        body(apiTokens)
        body(credentialTokens)
        body(unknownApiTokens)
    }
}

/// The mark the negative cache keeps for a token hash the database did not know.
public struct UnknownToken: Sendable, Equatable {
    /// The mark.
    public init() {}
}

/// The controls ``TokenCaches`` applies to each of its caches.
protocol TokenCacheControl {
    func clear()
    func setLive(_ live: Bool)
    func confirm(through instant: ContinuousClock.Instant)
    func switchOff(_ off: Bool)
    func setWindow(_ window: Duration)
}

extension TokenCache: TokenCacheControl {}

/// Keeps ``TokenCaches`` honest: listens on `airlock_token_changes` (a ``ChannelListener``: its own connection,
/// reconnects, heartbeat) and clears the caches on every notification. The caches answer only while it listens and
/// within three heartbeat intervals of hearing its own heartbeat; when the connection fails or goes deaf they are
/// switched off (every lookup goes to the database) until it listens again. It starts listening only once
/// `isDatabaseReady` (migrations current, so the notifying triggers exist).
///
/// While it listens the broker is registered in `broker_instances` (``BrokerRegistry``); a revocation's barrier
/// (`sync NONCE`) is acknowledged there once the caches are cleared, and a revoker's switch-off, read back with each
/// heartbeat, keeps the caches off until this broker has acknowledged that barrier. `created` (a new `alk_` token)
/// clears only the unknown-token cache.
public struct TokenChangeListener: Service {
    public static let channel = "airlock_token_changes"
    /// The payload of a new `alk_` token (migration 0008).
    public static let created = "created"
    /// The prefix of a revocation barrier's payload (`sync NONCE`).
    public static let sync = "sync "

    let listener: ChannelListener
    let caches: TokenCaches
    let registry: BrokerRegistry
    let window: Duration
    let logger: Logger

    /// Creates the listener; the caches answer for three `heartbeatInterval`s after each heartbeat heard.
    public init(
        database: Database, caches: TokenCaches, logger: Logger, heartbeatInterval: Duration = .seconds(1),
        brokerID: UUID = UUID(), brokerName: String = BrokerRegistry.defaultName,
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        let window = heartbeatInterval * 3
        let registry = BrokerRegistry(database: database, id: brokerID, name: brokerName, logger: logger)
        caches.setWindow(window)
        self.listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, heartbeatInterval: heartbeatInterval,
            isReady: isDatabaseReady,
            sendBeat: { payload in
                let off = try await registry.beat(channel: Self.channel, payload: payload, window: window)
                caches.switchOff(off)
            })
        self.caches = caches
        self.registry = registry
        self.window = window
        self.logger = logger
    }

    /// This broker's id in `broker_instances`.
    public var brokerID: UUID { registry.id }

    public func run() async throws {
        let caches = self.caches, registry = self.registry, window = self.window, logger = self.logger
        try? await cancelWhenGracefulShutdown {
            await listener.run(listening: { listening in
                if listening {
                    try await registry.register(window: window)  // before answering: a revoker must see us
                    caches.setLive(true)
                } else {
                    caches.setLive(false)
                }
            }, received: { payload in
                if payload == Self.created {
                    caches.unknownApiTokens.clear()
                    return
                }
                caches.clear()
                guard payload.hasPrefix(Self.sync), let nonce = UUID(uuidString: String(payload.dropFirst(Self.sync.count)))
                else { return }
                do {
                    try await registry.acknowledge(nonce: nonce)
                } catch {
                    logger.warning("cannot acknowledge a token revocation; revokers will wait for this broker",
                                   metadata: ["broker_id": "\(registry.id)"])
                }
            }, confirmed: { sent in
                caches.confirm(through: sent)
            })
        }
        caches.setLive(false)
        await registry.unregister()
    }
}
