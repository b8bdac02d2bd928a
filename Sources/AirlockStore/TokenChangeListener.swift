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

/// Keeps ``TokenCaches`` honest: listens on `airlock_token_changes` (a ``ChannelListener``: its own connection,
/// reconnects, heartbeat) and clears the caches on every notification. The caches answer only while it listens;
/// when the connection fails or goes deaf they are switched off (every lookup goes to the database) until it listens
/// again. It starts listening only once `isDatabaseReady` (migrations current, so the notifying triggers exist).
public struct TokenChangeListener: Service {
    public static let channel = "airlock_token_changes"

    let listener: ChannelListener
    let caches: TokenCaches

    public init(
        database: Database, caches: TokenCaches, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, heartbeatInterval: heartbeatInterval,
            isReady: isDatabaseReady)
        self.caches = caches
    }

    public func run() async throws {
        let caches = self.caches
        try? await cancelWhenGracefulShutdown {
            await listener.run(listening: { caches.setLive($0) }, received: { _ in caches.clear() })
        }
        caches.setLive(false)
    }
}
