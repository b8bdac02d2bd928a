import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Envelope encryption backed by the `data_keys` table.
///
/// Secrets are sealed with an AES-256-GCM data key; data keys are stored only wrapped by a key-encryption key
/// (KEK, the master key) that never enters the database. Exactly one data key is active: it seals new secrets.
/// Key rotation (``KeyRotation``) retires it for a new one, re-encrypts every sealed column (``SealedColumn``)
/// under the new one (``reencrypt(batchSize:skipLocked:logger:)``, which brokers also run in the background), and
/// destroys a retired data key once no secret uses it.
public final class DataKeyStore: Sendable {
    let database: Database
    let unwrapped: UnwrappedDataKeys

    /// Creates a store that wraps with `keyRing.current` and unwraps with any key of the ring.
    public init(database: Database, keyRing: KeyRing) {
        self.database = database
        self.unwrapped = UnwrappedDataKeys(keyRing: keyRing)
    }

    /// The master keys this store holds.
    public var keyRing: KeyRing { unwrapped.keyRing }

    /// Seals `plaintext` for the place it will be stored (`context`: table, row, column) with the active data key.
    public func seal(_ plaintext: [UInt8], context: EncryptionContext, logger: Logger) async throws -> SealedSecret {
        let key = try await database.client.withConnection { connection in
            try await self.activeDataKey(on: connection, logger: logger)
        }
        return try SealedSecret.seal(plaintext, with: key, context: context)
    }

    /// Opens a ciphertext read from the place `context` names. A ciphertext copied from another row, table or
    /// column fails with `decryption_failed`.
    public func open(_ sealed: SealedSecret, context: EncryptionContext, logger: Logger) async throws -> [UInt8] {
        let key = try await database.client.withConnection { connection in
            try await self.dataKey(id: sealed.dataKeyID, on: connection, logger: logger)
        }
        return try sealed.open(with: key, context: context)
    }

    /// The data key that seals new secrets, creating the first one if there is none.
    func activeDataKey(on connection: PostgresConnection, logger: Logger) async throws -> DataKey {
        if let active = try await Self.active(on: connection, lock: false, logger: logger) {
            return try unwrapped.key(active)
        }
        let key = DataKey.generate()
        let wrapped = try key.wrap(with: keyRing.current)
        let inserted = try await connection.query(
            """
            INSERT INTO data_keys (id, kek_id, wrapped, active) VALUES (\(key.id), \(wrapped.kekID), \(Data(wrapped.wrapped)), true)
            ON CONFLICT DO NOTHING RETURNING id
            """, logger: logger)
        var won = false
        for try await _ in inserted.decode(UUID.self) { won = true }
        if won {
            unwrapped.remember(key)
            return key
        }
        // Another replica created the first key at the same moment: use theirs.
        return try await activeDataKey(on: connection, logger: logger)
    }

    /// The active data key as stored, or nil when there is none; `lock` holds it `FOR SHARE` until the
    /// transaction ends, so that it cannot be retired meanwhile.
    static func active(on connection: PostgresConnection, lock: Bool, logger: Logger) async throws -> WrappedDataKey? {
        let rows = try await connection.query(
            "SELECT id, kek_id, wrapped FROM data_keys WHERE active \(unescaped: lock ? "FOR SHARE" : "")", logger: logger)
        for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
            return WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped))
        }
        return nil
    }

    /// The data key `id`, from memory or unwrapped from the table.
    func dataKey(id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> DataKey {
        if let key = unwrapped.cached(id) { return key }
        let rows = try await connection.query("SELECT kek_id, wrapped FROM data_keys WHERE id = \(id)", logger: logger)
        for try await (kekID, wrapped) in rows.decode((String, Data).self) {
            return try unwrapped.key(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
        }
        throw CryptoError(code: "unknown_data_key", message: "the data key of this ciphertext does not exist")
    }

    /// Retires the active data key (it seals nothing new from now on) and makes a new one, wrapped by the current
    /// master key, the active one. Secrets sealed with the retired key stay readable until re-encrypted.
    @discardableResult
    public func startNewDataKey(logger: Logger) async throws -> UUID {
        try await database.client.withConnection { connection in
            try await self.startNewDataKey(on: connection, logger: logger)
        }
    }

    func startNewDataKey(on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        let key = DataKey.generate()
        let wrapped = try key.wrap(with: keyRing.current)
        try await connection.withTransaction(logger: logger) { transaction in
            // Waits for re-encryption batches that hold the active key FOR SHARE, so none of them seals with a key
            // that is no longer active once this commits.
            try await transaction.query(
                "UPDATE data_keys SET active = false, retired_at = now() WHERE active", logger: logger)
            try await transaction.query(
                """
                INSERT INTO data_keys (id, kek_id, wrapped, active)
                VALUES (\(key.id), \(wrapped.kekID), \(Data(wrapped.wrapped)), true)
                """, logger: logger)
        }
        unwrapped.remember(key)
        logger.info("new active data key", metadata: ["data_key": "\(key.id.uuidString.lowercased())"])
        return key.id
    }
}
