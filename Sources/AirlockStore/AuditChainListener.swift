import Foundation
import Logging
import ServiceLifecycle

/// Tells this broker's webhook dispatcher (and SIEM sink, when one is configured) that events were chained: listens on `airlock_audit_chained` (a
/// ``ChannelListener``: its own connection, reconnects, heartbeat), which the ``AuditChainer`` of any broker
/// notifies with the last sequence of each pass, and calls `chained` — also when it starts listening, again after a
/// lost connection, since notifications may have been missed meanwhile.
public struct AuditChainListener: Service {
    public static let channel = "airlock_audit_chained"

    let listener: ChannelListener
    let chained: @Sendable () -> Void

    public init(
        database: Database, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }, chained: @escaping @Sendable () -> Void
    ) {
        self.listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, heartbeatInterval: heartbeatInterval,
            isReady: isDatabaseReady)
        self.chained = chained
    }

    public func run() async throws {
        let chained = self.chained
        try? await cancelWhenGracefulShutdown {
            await listener.run(listening: { listening in
                if listening { chained() }
            }, received: { _ in chained() })
        }
    }
}
