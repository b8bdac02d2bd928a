import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// `airlock keys rotate`: moves everything to the current master key and a new data key, and succeeds only when
/// nothing is left behind.
///
/// One rotation runs at a time per database: a session advisory lock, held on the connection that does all the
/// work, makes a second run fail at once with `rotation_in_progress` (the lock goes with the connection if the
/// process dies). A run:
///
/// 1. retires the active data key for a new one wrapped by the current master key (unless resuming);
/// 2. rewraps every data key still wrapped by a previous master key (waiting for rows others hold: no rows are
///    skipped);
/// 3. re-encrypts every sealed secret under the new data key and destroys each retired data key no secret uses
///    (``DataKeyStore/reencrypt(batchSize:skipLocked:logger:)``, repeated while it makes progress), unless this
///    is left to the brokers' background pass;
/// 4. reads the result back (``KeyUsage``) and fails with `rotation_incomplete`, naming what is left, unless every
///    data key is wrapped by the current master key and (when it re-encrypted) only the active data key remains.
///
/// Every step is idempotent, so a run that failed or was cut short is finished by running again.
public struct KeyRotation: Sendable {
    /// The advisory lock key that admits one rotation at a time (`AIRLOCK` + 3).
    public static let advisoryLockKey: Int64 = 0x4149_524C_4F43_4B03

    /// What a rotation does besides rewrapping.
    public struct Options: Sendable, Equatable {
        /// Retire the active data key for a new one (false: finish an earlier rotation).
        public var newDataKey = true
        /// Re-encrypt every secret and destroy retired data keys now (false: leave it to the brokers).
        public var reencrypt = true
        /// Rows per transaction.
        public var batchSize = 100

        /// A full rotation.
        public init(newDataKey: Bool = true, reencrypt: Bool = true, batchSize: Int = 100) {
            self.newDataKey = newDataKey
            self.reencrypt = reencrypt
            self.batchSize = batchSize
        }
    }

    /// What a successful rotation did.
    public struct Report: Sendable, Equatable {
        /// The master key everything is now wrapped by.
        public var masterKeyID: String
        /// The new active data key (nil when resuming).
        public var newDataKey: UUID?
        /// Data keys rewrapped from a previous master key.
        public var rewrapped = 0
        /// Secrets re-encrypted under the active data key.
        public var reencrypted = 0
        /// Retired data keys destroyed.
        public var destroyed: [UUID] = []
        /// The state afterwards.
        public var usage: KeyUsage?
    }

    let keys: DataKeyStore

    /// A rotation to `keys.keyRing.current`, which unwraps with any key of the ring.
    public init(keys: DataKeyStore) {
        self.keys = keys
    }

    /// Runs the rotation; see the type's documentation.
    ///
    /// - Throws: ``StoreError`` `rotation_in_progress` when another rotation holds the lock; `rotation_incomplete`
    ///   when something is left under a previous master key or a retired data key; `unknown_key_encryption_key`
    ///   when a data key is wrapped by a master key that is not in the ring.
    public func run(_ options: Options = Options(), logger: Logger) async throws -> Report {
        try await keys.database.client.withConnection { connection in
            let locked = try await connection.query(
                "SELECT pg_try_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            var acquired = false
            for try await value in locked.decode(Bool.self) { acquired = value }
            guard acquired else {
                throw StoreError(
                    code: "rotation_in_progress",
                    message: "another key rotation is running on this database: wait for it to end, then check with `airlock keys status` (and run `airlock keys rotate --resume` if it did not finish)")
            }
            do {
                let report = try await Self.unwrappingTransactionErrors {
                    try await self.locked(options, on: connection, logger: logger)
                }
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    private func locked(_ options: Options, on connection: PostgresConnection, logger: Logger) async throws -> Report {
        let current = keys.keyRing.current.id
        var report = Report(masterKeyID: current)
        try await preflight(on: connection, logger: logger)
        if options.newDataKey {
            report.newDataKey = try await keys.startNewDataKey(on: connection, logger: logger)
        }
        report.rewrapped += try await rewrap(on: connection, batchSize: options.batchSize, logger: logger)
        if options.reencrypt {
            // A pass waits for every row it selects; another pass is needed only for secrets written meanwhile
            // with the retired key (a broker that read the active key just before it was retired).
            for _ in 0..<10 {
                let pass = try await keys.reencrypt(
                    on: connection, batchSize: options.batchSize, skipLocked: false, logger: logger)
                report.reencrypted += pass.reencrypted
                report.destroyed += pass.destroyed
                if pass.reencrypted == 0 { break }
            }
        }
        // Anything a broker holding only an older master key wrapped meanwhile.
        report.rewrapped += try await rewrap(on: connection, batchSize: options.batchSize, logger: logger)
        let usage = try await KeyUsage.load(on: connection, logger: logger)
        report.usage = usage
        let unfinished = usage.unfinished(currentMasterKey: current, reencrypted: options.reencrypt)
        guard unfinished.isEmpty else {
            let shown = unfinished.prefix(5).joined(separator: "; ")
            let more = unfinished.count > 5 ? " (and \(unfinished.count - 5) more)" : ""
            throw StoreError(
                code: "rotation_incomplete",
                message: "rotation to master key \(current) is not complete: \(shown)\(more)")
        }
        return report
    }

    /// Unwraps every data key with the ring before anything changes, so that a ring that lacks a master key in use
    /// (or a tampered data key) stops the rotation with nothing changed rather than half way. Under the rotation lock
    /// no other rotation changes what wraps what meanwhile.
    private func preflight(on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id", logger: logger)
        for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
            do throws(CryptoError) {
                _ = try WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)).unwrap(using: keys.keyRing)
            } catch where error.code == CryptoError.unknownKeyEncryptionKeyCode {
                throw CryptoError(
                    code: error.code,
                    message: "data key \(id.uuidString.lowercased()) is wrapped by master key \(kekID), which is not configured: add it to AIRLOCK_PREVIOUS_MASTER_KEYS or keys.previous_key_files (nothing was changed)")
            } catch {
                throw CryptoError(
                    code: error.code,
                    message: "data key \(id.uuidString.lowercased()) cannot be unwrapped: \(error.message) (nothing was changed)")
            }
        }
    }

    /// Runs `body`, rethrowing the error inside a failed transaction rather than postgres-nio's wrapper around it.
    private static func unwrappingTransactionErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    /// Rewraps every data key not wrapped by the current master key, in batches, each its own transaction. Rows
    /// are locked `FOR NO KEY UPDATE` and waited for, never skipped.
    private func rewrap(on connection: PostgresConnection, batchSize: Int, logger: Logger) async throws -> Int {
        let ring = keys.keyRing
        var rewrapped = 0
        while true {
            let count = try await connection.withTransaction(logger: logger) { transaction in
                let rows = try await transaction.query(
                    """
                    SELECT id, kek_id, wrapped FROM data_keys WHERE kek_id <> \(ring.current.id)
                    ORDER BY id LIMIT \(batchSize) FOR NO KEY UPDATE
                    """, logger: logger)
                var batch: [WrappedDataKey] = []
                for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
                    batch.append(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
                }
                for old in batch {
                    let new = try old.rewrap(using: ring)
                    try await transaction.query(
                        """
                        UPDATE data_keys SET kek_id = \(new.kekID), wrapped = \(Data(new.wrapped)), rewrapped_at = now()
                        WHERE id = \(old.dataKeyID)
                        """, logger: logger)
                }
                return batch.count
            }
            rewrapped += count
            if count < batchSize { return rewrapped }
        }
    }
}
