import Foundation
import Logging
import ServiceLifecycle

/// Tells this broker's webhook dispatcher (and SIEM sink, when one is configured) that events were chained: listens on `airlock_audit_chained` (a
/// ``ChannelListener``: its own connection, reconnects, heartbeat), which the ``AuditChainer`` of any broker
/// notifies with the last sequence of each pass, and calls `chained` — also when it starts listening, again after a
/// lost connection, since notifications may have been missed meanwhile.
public struct AuditChainListener: Service {
    public static let channel = "airlock_audit_chained"
    /// Notified by the outbox trigger (migration 0014) when a transaction appended events a webhook endpoint
    /// receives: the chainer's cue to chain them now rather than at its next pass.
    public static let appendedChannel = "airlock_audit_appended"

    let listener: ChannelListener
    let chained: @Sendable () -> Void

    /// Listens on `channel` (``channel``, or ``appendedChannel``) and calls `chained` for each notification.
    public init(
        database: Database, channel: String = channel, logger: Logger, heartbeatInterval: Duration = .seconds(5),
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }, chained: @escaping @Sendable () -> Void
    ) {
        self.listener = ChannelListener(
            database: database, channel: channel, logger: logger, heartbeatInterval: heartbeatInterval,
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
