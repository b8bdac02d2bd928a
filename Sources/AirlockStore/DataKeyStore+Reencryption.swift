import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import PostgresNIO

extension DataKeyStore {
    /// What one re-encryption pass did.
    public struct Reencryption: Sendable, Equatable {
        /// Secrets re-encrypted under the active data key.
        public var reencrypted = 0
        /// Secrets that could not be opened, as `table.column[row]: code` (never content): they keep their old
        /// data key, which therefore stays.
        public var failed: [String] = []
        /// Retired data keys destroyed (rows deleted) because no secret uses them any more.
        public var destroyed: [UUID] = []

        /// Nothing to report.
        public init() {}
    }

    /// Re-encrypts every secret of every ``SealedColumn`` that is not sealed with the active data key, then
    /// destroys each retired data key no secret uses any more.
    ///
    /// Resumable and idempotent: the work is found from the data (each secret's generated key column), so a pass
    /// cut short is finished by the next one, and a secret already under the active key is left alone. Each batch
    /// of `batchSize` rows is one transaction that holds the active key `FOR SHARE` (so it cannot be retired
    /// mid-batch) and its rows `FOR UPDATE`; with `skipLocked` (the brokers' background pass) rows another
    /// transaction holds are left for a later pass, without it (``KeyRotation``) the pass waits for them.
    public func reencrypt(batchSize: Int = 100, skipLocked: Bool = true, logger: Logger) async throws -> Reencryption {
        try await database.client.withConnection { connection in
            try await self.reencrypt(on: connection, batchSize: batchSize, skipLocked: skipLocked, logger: logger)
        }
    }

    func reencrypt(
        on connection: PostgresConnection, batchSize: Int, skipLocked: Bool, logger: Logger
    ) async throws -> Reencryption {
        var result = Reencryption()
        // Every secret names an existing data key (the foreign keys), so with no retired key there is no work.
        let retired = try await connection.query("SELECT count(*)::int8 FROM data_keys WHERE NOT active", logger: logger)
        var retiredCount: Int64 = 0
        for try await count in retired.decode(Int64.self) { retiredCount = count }
        guard retiredCount > 0 else { return result }
        for column in SealedColumn.all {
            var after: String?
            while true {
                let batch = try await reencryptBatch(
                    column, after: after, on: connection, batchSize: batchSize, skipLocked: skipLocked, logger: logger)
                result.reencrypted += batch.reencrypted
                result.failed += batch.failed
                guard batch.rows == batchSize, let last = batch.last else { break }
                after = last
            }
        }
        for failure in result.failed {
            logger.warning("a sealed secret cannot be opened, so its data key stays", metadata: ["secret": "\(failure)"])
        }
        result.destroyed = try await destroyUnusedDataKeys(on: connection, logger: logger)
        return result
    }

    private struct Batch: Sendable {
        var rows = 0
        var last: String?
        var reencrypted = 0
        var failed: [String] = []
    }

    /// One transaction: up to `batchSize` rows of `column` after the row id `after`, not sealed with the active key.
    private func reencryptBatch(
        _ column: SealedColumn, after: String?, on connection: PostgresConnection, batchSize: Int, skipLocked: Bool,
        logger: Logger
    ) async throws -> Batch {
        try await connection.withTransaction(logger: logger) { transaction in
            var batch = Batch()
            guard let active = try await Self.active(on: transaction, lock: true, logger: logger) else { return batch }
            let activeKey = try self.unwrapped.key(active)
            let rows = try await transaction.query(
                """
                SELECT \(unescaped: column.sqlID)::text, \(unescaped: column.sqlSecret) FROM \(unescaped: column.sqlTable)
                WHERE \(unescaped: column.sqlKey) <> \(active.dataKeyID)
                  AND (\(after)::text IS NULL OR \(unescaped: column.sqlID) > \(after)::text::\(unescaped: column.idType))
                ORDER BY \(unescaped: column.sqlID) LIMIT \(batchSize)
                FOR UPDATE \(unescaped: skipLocked ? "SKIP LOCKED" : "")
                """, logger: logger)
            var found: [(String, Data)] = []
            for try await row in rows.decode((String, Data).self) { found.append(row) }
            batch.rows = found.count
            batch.last = found.last?.0
            for (id, stored) in found {
                let context = column.context(row: id)
                let resealed: SealedSecret
                do {
                    let sealed = try SealedSecret(data: stored)
                    let old = try await self.dataKey(id: sealed.dataKeyID, on: transaction, logger: logger)
                    resealed = try SealedSecret.seal(try sealed.open(with: old, context: context), with: activeKey, context: context)
                } catch let error as CryptoError {
                    batch.failed.append("\(context): \(error.code)")
                    continue
                }
                try await transaction.query(
                    """
                    UPDATE \(unescaped: column.sqlTable) SET \(unescaped: column.sqlSecret) = \(resealed.data)
                    WHERE \(unescaped: column.sqlID) = \(id)::text::\(unescaped: column.idType)
                    """, logger: logger)
                batch.reencrypted += 1
            }
            return batch
        }
    }

    /// Deletes every retired data key that no secret uses, one at a time, and returns their ids. The foreign key of
    /// each sealed column's key column backs the check: a secret written with a retired key at the last moment
    /// makes its key's deletion fail (then it stays, for the next pass).
    func destroyUnusedDataKeys(on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let unused = SealedColumn.all.map {
            "NOT EXISTS (SELECT 1 FROM \($0.sqlTable) WHERE \($0.sqlKey) = d.id)"
        }.joined(separator: " AND ")
        let rows = try await connection.query(
            "SELECT id FROM data_keys d WHERE NOT active AND \(unescaped: unused) ORDER BY id", logger: logger)
        var candidates: [UUID] = []
        for try await id in rows.decode(UUID.self) { candidates.append(id) }
        var destroyed: [UUID] = []
        for id in candidates {
            do {
                let deleted = try await connection.query(
                    "DELETE FROM data_keys WHERE id = \(id) AND NOT active RETURNING id", logger: logger)
                for try await _ in deleted.decode(UUID.self) { destroyed.append(id) }
            } catch where databaseErrorState(error) == "23503" {
                continue  // foreign_key_violation: a secret sealed with it appeared meanwhile
            }
            unwrapped.forget(id)
            logger.info("destroyed a retired data key", metadata: ["data_key": "\(id.uuidString.lowercased())"])
        }
        return destroyed
    }
}
