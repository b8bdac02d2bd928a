import AirlockCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

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
public struct TokenChangeListener: Service {
    public static let channel = "airlock_token_changes"

    let url: DatabaseURL
    let caches: TokenCaches
    let logger: Logger
    let isDatabaseReady: @Sendable () -> Bool

    public init(
        url: DatabaseURL, caches: TokenCaches, logger: Logger, isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.url = url
        self.caches = caches
        self.logger = logger
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
            configuration: try url.connectionConfiguration(), id: 0x70C, logger: logger)
        do {
            try await connection.listen(on: Self.channel) { notifications in
                caches.setLive(true)  // from here on every change reaches this loop
                logger.debug("listening for token changes")
                for try await _ in notifications { caches.clear() }
            }
        } catch {
            caches.setLive(false)
            try? await connection.close()
            throw error
        }
        caches.setLive(false)
        try? await connection.close()
    }
}
