import AirlockCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// One broker's row in `broker_instances` (migration 0008): registered while its ``TokenChangeListener`` listens,
/// moved by every heartbeat, and the place where it acknowledges the revocation barriers it processed, so that a
/// revoker (``RevocationBarrier``) knows when every live broker has dropped a token.
public struct BrokerRegistry: Sendable {
    /// This broker's id (a new one per process start).
    public let id: UUID
    /// A name for people: host and process id.
    public let name: String
    let database: Database
    let logger: Logger
    /// Whether a registration ever succeeded (only then is there a row to remove at the end).
    private let registered = Registered()

    /// The registration of the broker `id` named `name` on `database` (nothing is written until it registers).
    public init(database: Database, id: UUID = UUID(), name: String = BrokerRegistry.defaultName, logger: Logger) {
        self.database = database
        self.id = id
        self.name = name
        self.logger = logger
    }

    /// `HOST pid PID`.
    public static var defaultName: String {
        "\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Registers (or re-registers) this broker with caches that answer for `window` after each proof; forgets
    /// rows no broker has moved for a day. Called each time listening starts, when the caches are empty and every
    /// change from then on is delivered: a switch-off set while this broker lagged is lifted.
    func register(window: Duration) async throws {
        let milliseconds = Self.milliseconds(window)
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "DELETE FROM broker_instances WHERE seen_at < now() - interval '1 day'", logger: logger)
            try await connection.query("""
                INSERT INTO broker_instances (id, name, cache_window_ms) VALUES (\(id), \(name), \(milliseconds))
                ON CONFLICT (id) DO UPDATE
                    SET seen_at = now(), cache_window_ms = EXCLUDED.cache_window_ms, caches_off_until = NULL
                """, logger: logger)
        }
        registered.set()
    }

    /// Sends heartbeat `payload` on `channel` and moves `seen_at` in one transaction (so a row that stops moving
    /// belongs to a broker that hears no heartbeat of its own, whose caches have therefore stopped answering).
    /// Returns whether a revoker switched this broker's caches off.
    func beat(channel: String, payload: String, window: Duration) async throws -> Bool {
        let milliseconds = Self.milliseconds(window)
        return try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
            let rows = try await connection.query("""
                INSERT INTO broker_instances (id, name, cache_window_ms) VALUES (\(id), \(name), \(milliseconds))
                ON CONFLICT (id) DO UPDATE SET seen_at = now()
                RETURNING caches_off_until IS NOT NULL
                """, logger: logger)
            var off = false
            for try await flag in rows.decode(Bool.self) { off = flag }
            return off
        }
    }

    /// Records that this broker processed the barrier `nonce` (its caches were cleared after the revocation
    /// committed); that also lifts a switch-off set for this barrier or an earlier one. A nonce that names no
    /// barrier (a forged notification) changes nothing.
    func acknowledge(nonce: UUID) async throws {
        try await database.client.query("""
            UPDATE broker_instances i SET acknowledged = greatest(i.acknowledged, b.id),
                caches_off_until = CASE WHEN i.caches_off_until <= b.id THEN NULL ELSE i.caches_off_until END
            FROM token_change_barriers b WHERE i.id = \(id) AND b.nonce = \(nonce)
            """, logger: logger)
    }

    /// Removes this broker's row (it no longer answers from caches), if it ever registered; gives up after 2 s
    /// (a database that is gone must not hold up shutdown: the row then ages out of the revokers' sight).
    func unregister() async {
        guard registered.isSet else { return }
        let database = self.database, id = self.id, logger = self.logger
        do {
            try await withTimeout(.seconds(2)) {
                try await database.client.query("DELETE FROM broker_instances WHERE id = \(id)", logger: logger)
            }
        } catch {
            logger.debug("cannot remove this broker's registration", metadata: ["broker_id": "\(id)"])
        }
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    }
}

/// A flag that is set once.
private final class Registered: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
