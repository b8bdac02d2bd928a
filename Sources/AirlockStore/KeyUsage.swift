import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// What is wrapped by which master key and sealed with which data key, as `airlock keys status` shows it: ids and
/// counts only, never key material or secrets.
public struct KeyUsage: Sendable, Equatable {
    /// One data key and the secrets it seals.
    public struct DataKeyUsage: Sendable, Equatable {
        /// The data key's id.
        public let id: UUID
        /// The id of the master key (KEK) that wraps it.
        public let masterKeyID: String
        /// Whether it seals new secrets (exactly one is active once any secret was sealed).
        public let active: Bool
        /// When it was created.
        public let createdAt: Date
        /// When rotation retired it (nil for the active key, and for keys from before retirement was recorded).
        public let retiredAt: Date?
        /// How many secrets it seals, by sealed column (`table.column`); columns with none are absent.
        public let secrets: [String: Int]

        /// How many secrets it seals in all.
        public var secretCount: Int { secrets.values.reduce(0, +) }
    }

    /// Every data key, oldest first.
    public let dataKeys: [DataKeyUsage]
    /// Stored values of a sealed column that name no data key (too short to be a ciphertext), by column.
    public let unattributed: [String: Int]

    /// How many data keys each master key wraps, by master key id.
    public var dataKeysByMasterKey: [String: Int] {
        dataKeys.reduce(into: [:]) { $0[$1.masterKeyID, default: 0] += 1 }
    }

    /// What keeps a rotation to `currentMasterKey` from being complete, one line each (empty: complete): a data
    /// key wrapped by another master key and, when `reencrypted`, a secret still sealed with a retired data key or
    /// a retired data key not yet destroyed.
    public func unfinished(currentMasterKey: String, reencrypted: Bool = true) -> [String] {
        var lines: [String] = []
        for key in dataKeys where key.masterKeyID != currentMasterKey {
            lines.append("data key \(key.id.uuidString.lowercased()) is wrapped by master key \(key.masterKeyID), not \(currentMasterKey)")
        }
        if reencrypted {
            for key in dataKeys where !key.active {
                let count = key.secretCount
                lines.append(count == 0
                    ? "retired data key \(key.id.uuidString.lowercased()) is not yet destroyed"
                    : "retired data key \(key.id.uuidString.lowercased()) still seals \(count) secret\(count == 1 ? "" : "s")")
            }
        }
        return lines
    }

    /// Reads the usage from the database.
    public static func load(from database: Database, logger: Logger) async throws -> KeyUsage {
        try await database.client.withConnection { connection in try await load(on: connection, logger: logger) }
    }

    static func load(on connection: PostgresConnection, logger: Logger) async throws -> KeyUsage {
        var counts: [UUID: [String: Int]] = [:]
        var unattributed: [String: Int] = [:]
        for column in SealedColumn.all {
            let rows = try await connection.query(
                """
                SELECT \(unescaped: column.sqlKey), count(*)::int8 FROM \(unescaped: column.sqlTable)
                WHERE \(unescaped: column.sqlSecret) IS NOT NULL GROUP BY 1
                """, logger: logger)
            for try await (key, count) in rows.decode((UUID?, Int64).self) {
                if let key {
                    counts[key, default: [:]][column.description] = Int(count)
                } else {
                    unattributed[column.description] = Int(count)
                }
            }
        }
        let rows = try await connection.query(
            "SELECT id, kek_id, active, created_at, retired_at FROM data_keys ORDER BY created_at, id", logger: logger)
        var keys: [DataKeyUsage] = []
        for try await (id, kekID, active, created, retired) in rows.decode((UUID, String, Bool, Date, Date?).self) {
            keys.append(DataKeyUsage(
                id: id, masterKeyID: kekID, active: active, createdAt: created, retiredAt: retired,
                secrets: counts[id] ?? [:]))
        }
        return KeyUsage(dataKeys: keys, unattributed: unattributed)
    }
}
