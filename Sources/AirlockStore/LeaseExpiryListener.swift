import AirlockCore
import Foundation
import Logging
import ServiceLifecycle

/// Tells this broker's expiry timer about leases other brokers (or this one) make active or renew: listens on
/// `airlock_lease_expiry` (a ``ChannelListener``: its own connection, reconnects, heartbeat; migration 0010 notifies
/// it by trigger) and hands each expiry to `expiry`. When it starts listening, again after a lost connection,
/// it calls `expiry(nil)`: notifications may have been missed meanwhile, so the timer must look at the database
/// again. It starts listening only once `isDatabaseReady` (migrations current, so the trigger exists).
public struct LeaseExpiryListener: Service {
    public static let channel = "airlock_lease_expiry"

    let listener: ChannelListener
    let expiry: @Sendable (Date?) -> Void

    /// Creates the listener; `expiry` gets each notified expiry, and nil whenever everything must be read again.
    public init(
        database: Database, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }, expiry: @escaping @Sendable (Date?) -> Void
    ) {
        self.listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, heartbeatInterval: heartbeatInterval,
            isReady: isDatabaseReady)
        self.expiry = expiry
    }

    /// The expiry a notification carries (milliseconds since 1970), nil for any other payload.
    public static func expiry(of payload: String) -> Date? {
        guard let milliseconds = Int64(payload) else { return nil }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }

    public func run() async throws {
        let expiry = self.expiry
        try? await cancelWhenGracefulShutdown {
            await listener.run(listening: { listening in
                if listening { expiry(nil) }
            }, received: { payload in
                if let date = Self.expiry(of: payload) { expiry(date) }
            })
        }
    }
}
