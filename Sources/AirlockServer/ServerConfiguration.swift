import AirlockCore
import AirlockStore
import Foundation
import Logging
import Prometheus

/// Everything `buildApplication(config:)` needs: the validated settings plus the pieces a test may replace.
public struct ServerConfiguration: Sendable {
    /// The validated settings (listen address, database, keys, logging, audit).
    public var settings: AirlockConfiguration
    /// The migrations this build applies and checks.
    public var migrations: [Migration]
    /// Apply pending migrations at start-up instead of refusing to start (`airlock serve --migrate`).
    public var migrateOnStart: Bool = false
    /// Where `/metrics` reads from. The executable also makes it the swift-metrics backend.
    public var metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    /// The clock of audit timestamps and, later, expiry.
    public var clock: any WallClock = SystemWallClock()
    /// The clock of the rate limits' token buckets (a test drives it to refill them exactly).
    public var rateLimitClock: any WallClock = SystemWallClock()
    /// This broker's name in `broker_instances`, which a revoker names when the broker lags (default: host and
    /// process id).
    public var brokerName: String = BrokerRegistry.defaultName
    /// How often the token-change listener beats; the token caches answer for three beats after each one heard.
    public var tokenHeartbeatInterval: Duration = .seconds(1)
    /// The longest the lease revocation sweep sleeps between passes. It wakes at each lease's expiry by itself
    /// (a timer, re-armed by every broker's expiry notifications); this poll covers a notification missed and the
    /// claims of a broker that died.
    public var revocationFallbackInterval: Duration = .seconds(2)
    /// The clock the audit checkpoint service waits on between checkpoints (a test drives it).
    public var checkpointClock: any Clock<Duration> = ContinuousClock()
    /// The application logger; request loggers derive from it.
    public var logger: Logger
    /// The environment that resource files may refer to (admin passwords, dev cluster address).
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// `airlock dev`'s local token issuer: its issuers are trusted and its JWKS served. Never set by `serve`.
    public var devIssuer: DevIssuer?
    /// Whether SIGHUP reloads the policy directory (`airlock serve`, `airlock dev`). Off where several brokers
    /// share one process and a stray SIGHUP must not reload them all.
    public var reloadPoliciesOnHangup = true
    /// Called once the server listens, with the port it bound (useful with port 0).
    public var onServerRunning: @Sendable (_ port: Int) async -> Void = { _ in }

    /// Creates a server configuration.
    public init(settings: AirlockConfiguration, migrations: [Migration], logger: Logger) {
        self.settings = settings
        self.migrations = migrations
        self.logger = logger
    }
}
