import AirlockCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Envelope encryption backed by the `data_keys` table.
///
/// Secrets are sealed with an AES-256-GCM data key; data keys are stored only wrapped by a key-encryption key
/// (KEK) that never enters the database. Unwrapped data keys are cached in memory, so a broker keeps serving
/// while `airlock keys rotate` rewraps the table under a new KEK.
public final class DataKeyStore: Sendable {
    private let database: Database
    private let keyRing: KeyRing
    private let cache = Mutex<[UUID: DataKey]>([:])

    /// Creates a store that wraps with `keyRing.current` and unwraps with any key of the ring.
    public init(database: Database, keyRing: KeyRing) {
        self.database = database
        self.keyRing = keyRing
    }

    /// Seals `plaintext` for the place it will be stored (`context`: table, row, column).
    public func seal(_ plaintext: [UInt8], context: EncryptionContext, logger: Logger) async throws -> SealedSecret {
        let key = try await activeDataKey(logger: logger)
        return try SealedSecret.seal(plaintext, with: key, context: context)
    }

    /// Opens a ciphertext read from the place `context` names. A ciphertext copied from another row, table or
    /// column fails with `decryption_failed`.
    public func open(_ sealed: SealedSecret, context: EncryptionContext, logger: Logger) async throws -> [UInt8] {
        let key = try await dataKey(id: sealed.dataKeyID, logger: logger)
        return try sealed.open(with: key, context: context)
    }

    /// The data key that seals new secrets, creating the first one if there is none.
    func activeDataKey(logger: Logger) async throws -> DataKey {
        let rows = try await database.client.query(
            "SELECT id, kek_id, wrapped FROM data_keys WHERE active", logger: logger)
        for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
            return try unwrapCached(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
        }
        let key = DataKey.generate()
        let wrapped = try key.wrap(with: keyRing.current)
        let inserted = try await database.client.query(
            """
            INSERT INTO data_keys (id, kek_id, wrapped, active) VALUES (\(key.id), \(wrapped.kekID), \(Data(wrapped.wrapped)), true)
            ON CONFLICT DO NOTHING RETURNING id
            """, logger: logger)
        var won = false
        for try await _ in inserted.decode(UUID.self) { won = true }
        if won {
            cache.withLock { $0[key.id] = key }
            return key
        }
        // Another replica created the first key at the same moment: use theirs.
        return try await activeDataKey(logger: logger)
    }

    /// The data key `id`, from the cache or unwrapped from the table.
    func dataKey(id: UUID, logger: Logger) async throws -> DataKey {
        if let key = cache.withLock({ $0[id] }) { return key }
        let rows = try await database.client.query(
            "SELECT kek_id, wrapped FROM data_keys WHERE id = \(id)", logger: logger)
        for try await (kekID, wrapped) in rows.decode((String, Data).self) {
            return try unwrapCached(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
        }
        throw CryptoError(code: "unknown_data_key", message: "the data key of this ciphertext does not exist")
    }

    private func unwrapCached(_ wrapped: WrappedDataKey) throws(CryptoError) -> DataKey {
        if let key = cache.withLock({ $0[wrapped.dataKeyID] }) { return key }
        let key = try wrapped.unwrap(using: keyRing)
        cache.withLock { $0[key.id] = key }
        return key
    }

    /// What `airlock keys rotate` did.
    public struct Rotation: Sendable, Equatable {
        /// Data keys rewrapped under the current KEK by this run.
        public let rewrapped: Int
        /// Data keys that were already under the current KEK.
        public let alreadyCurrent: Int
    }

    /// Rewraps every data key not yet wrapped by the current KEK, in small transactions, so brokers keep
    /// serving meanwhile. Each old KEK must be in the ring's previous keys. Safe to run again after a failure.
    public func rotateKeyEncryptionKey(batchSize: Int = 100, logger: Logger) async throws -> Rotation {
        let current = keyRing.current.id
        var rewrapped = 0
        while true {
            let count = try await database.client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query(
                    """
                    SELECT id, kek_id, wrapped FROM data_keys WHERE kek_id <> \(current)
                    ORDER BY id LIMIT \(batchSize) FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                var batch: [WrappedDataKey] = []
                for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
                    batch.append(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
                }
                for old in batch {
                    let new = try old.rewrap(using: self.keyRing)
                    try await connection.query(
                        """
                        UPDATE data_keys SET kek_id = \(new.kekID), wrapped = \(Data(new.wrapped)), rewrapped_at = now()
                        WHERE id = \(old.dataKeyID)
                        """, logger: logger)
                }
                return batch.count
            }
            rewrapped += count
            if count < batchSize { break }
        }
        let rows = try await database.client.query(
            "SELECT count(*) FROM data_keys WHERE kek_id = \(current)", logger: logger)
        var total: Int64 = 0
        for try await value in rows.decode(Int64.self) { total = value }
        return Rotation(rewrapped: rewrapped, alreadyCurrent: Int(total) - rewrapped)
    }
}
