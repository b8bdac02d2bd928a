import Foundation
import Logging
import PostgresNIO

/// Makes a revocation final before it returns: the revoking transaction raises a barrier (a `token_change_barriers`
/// row and a `sync NONCE` notification, both visible at commit); every live broker clears its token caches when it
/// hears the notification and acknowledges the barrier in `broker_instances` (``TokenChangeListener``); the revoker
/// waits, at most ``wait``, until every live broker has.
///
/// A broker that has not acknowledged by then is named in the log and its caches are switched off until it has.
/// The revoker still returns only once such a broker cannot be answering from a cache that holds the token: a
/// broker's caches answer only within its `cache_window_ms` of hearing its own heartbeat, and that heartbeat is
/// delivered after the barrier (notifications arrive in commit order), so once the window has passed since the
/// commit the broker has either cleared its caches or stopped answering from them. A broker whose row has not moved
/// for twice its window hears no heartbeat of its own and is not waited for.
public struct RevocationBarrier: Sendable {
    /// How long to wait for every live broker's acknowledgement (`tokens.revocation_wait_ms`).
    public let wait: Duration
    /// The window assumed for a broker the revoker could not read (the default cache window).
    static let fallbackWindow: Duration = .seconds(3)

    /// A barrier that waits at most `wait` for the brokers' acknowledgements.
    public init(wait: Duration = .seconds(5)) {
        self.wait = wait
    }

    /// Raises a barrier inside the revoking transaction; returns its nonce (for ``awaitBrokers(nonce:committedBefore:database:logger:)``).
    /// Forgets barriers older than a day.
    static func raise(on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        let nonce = UUID()
        try await connection.query(
            "DELETE FROM token_change_barriers WHERE created_at < now() - interval '1 day'", logger: logger)
        try await connection.query("INSERT INTO token_change_barriers (nonce) VALUES (\(nonce))", logger: logger)
        let payload = TokenChangeListener.sync + nonce.uuidString.lowercased()
        try await connection.query("SELECT pg_notify(\(TokenChangeListener.channel), \(payload))", logger: logger)
        return nonce
    }

    /// A broker that had not acknowledged a barrier when the revoker stopped waiting.
    public struct LaggingBroker: Sendable, Equatable {
        /// Its id in `broker_instances`.
        public let id: UUID
        /// Its name there (host and process id, unless configured).
        public let name: String
    }

    /// Waits until every live broker has acknowledged the barrier `nonce` (committed before `start`), at most
    /// ``wait``; then switches the caches of those that have not off and waits out their cache windows. Returns
    /// the brokers that lagged.
    func awaitBrokers(
        nonce: UUID, committedBefore start: ContinuousClock.Instant, database: Database, logger: Logger
    ) async -> [LaggingBroker] {
        let deadline = start + wait
        var pause: Duration = .milliseconds(5)
        var lagging: [(broker: LaggingBroker, window: Duration)] = []
        var answered = false
        while true {
            do {
                lagging = try await unacknowledged(nonce: nonce, database: database, logger: logger)
                answered = true
                if lagging.isEmpty { return [] }
            } catch {
                logger.warning("cannot read the brokers' acknowledgements of a token revocation; still waiting")
            }
            guard ContinuousClock.now < deadline else { break }
            try? await Task.sleep(for: min(pause, deadline - ContinuousClock.now))
            pause = min(pause * 2, .milliseconds(100))
        }
        let ids = lagging.map(\.broker.id)
        if !ids.isEmpty {
            do {
                try await database.client.query("""
                    UPDATE broker_instances i SET caches_off_until = greatest(coalesce(i.caches_off_until, 0), b.id)
                    FROM token_change_barriers b
                    WHERE b.nonce = \(nonce) AND i.id = ANY(\(ids)) AND i.acknowledged < b.id
                    """, logger: logger)
            } catch {
                logger.warning("cannot switch off the caches of lagging brokers")
            }
        }
        let longest = answered ? lagging.map(\.window).max() ?? .zero : Self.fallbackWindow
        // Clock rates differ a little between hosts: a margin on the broker's own window.
        let safe = start + longest * 1.1 + .milliseconds(20)
        if ContinuousClock.now < safe { try? await Task.sleep(until: safe, clock: .continuous) }
        if !answered {
            logger.error("a token revocation could not be confirmed by the brokers; waited out the default cache window")
        }
        for (broker, _) in lagging {
            logger.warning("a broker did not acknowledge a token revocation in time; its token caches are switched off",
                           metadata: ["broker_id": "\(broker.id)", "broker": "\(broker.name)", "waited": "\(wait)"])
        }
        return lagging.map(\.broker)
    }

    private func unacknowledged(
        nonce: UUID, database: Database, logger: Logger
    ) async throws -> [(broker: LaggingBroker, window: Duration)] {
        let rows = try await database.client.query("""
            SELECT i.id, i.name, i.cache_window_ms FROM broker_instances i, token_change_barriers b
            WHERE b.nonce = \(nonce) AND i.acknowledged < b.id
              AND i.seen_at > now() - 2 * i.cache_window_ms * interval '1 millisecond'
            ORDER BY i.name, i.id
            """, logger: logger)
        var result: [(broker: LaggingBroker, window: Duration)] = []
        for try await (id, name, window) in rows.decode((UUID, String, Int32).self) {
            result.append((LaggingBroker(id: id, name: name), .milliseconds(Int64(window))))
        }
        return result
    }
}
