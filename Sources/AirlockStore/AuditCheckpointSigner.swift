import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Signs the audit chain's head: records an ``AuditCheckpoint`` in `audit_checkpoints` and appends it as an
/// `airlock.audit.checkpoint` event in one transaction, so every webhook receiver gets it.
///
/// Every replica may call ``signHead(logger:)``: a transaction-scoped advisory lock lets one sign at a time, and
/// `INSERT … ON CONFLICT (sequence) DO NOTHING` keeps a head from being recorded twice even without it. The head is
/// signed only when events other than checkpoints were chained since the last checkpoint (the checkpoint event
/// itself moves the head; signing that alone would sign forever on an idle broker), and never when the chain no
/// longer holds the last checkpoint's hash: signing a rewritten chain would vouch for it.
public struct AuditCheckpointSigner: Sendable {
    /// The advisory lock key that elects the signer of a pass (`AIRLOCK` + 4).
    public static let advisoryLockKey: Int64 = 0x4149_524C_4F43_4B04

    /// What a pass did.
    public enum Outcome: Sendable, Equatable {
        /// A checkpoint was signed, recorded and appended as an event.
        case signed(AuditCheckpoint)
        /// Nothing but checkpoints was chained since the last checkpoint (or the chain is empty).
        case unchanged
        /// Another replica holds the lock this moment.
        case busy
        /// The chain no longer holds the last checkpoint's hash at its sequence (or ends before it): nothing signed.
        case chainDisagrees(sequence: Int64)
    }

    let database: Database
    let keys: AuditCheckpointKeys
    let auditLog: AuditLog

    /// A signer with `keys` that appends through `auditLog`, whose clock also stamps the checkpoint's time.
    public init(database: Database, keys: AuditCheckpointKeys, auditLog: AuditLog) {
        self.database = database
        self.keys = keys
        self.auditLog = auditLog
    }

    /// Signs the chained head if it moved since the last checkpoint.
    public func signHead(logger: Logger) async throws -> Outcome {
        do {
            return try await database.client.withTransaction(logger: logger) { connection in
                try await signHead(on: connection, logger: logger)
            }
        } catch let error as PostgresTransactionError {
            if error.closureError is AlreadyRecorded { return .busy }
            throw error
        }
    }

    private func signHead(on connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        let locked = try await connection.query(
            "SELECT pg_try_advisory_xact_lock(\(Self.advisoryLockKey))", logger: logger)
        var haveLock = false
        for try await value in locked.decode(Bool.self) { haveLock = value }
        guard haveLock else { return .busy }

        var last: (sequence: Int64, hash: String)?
        let lastRows = try await connection.query(
            "SELECT sequence, hash FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1", logger: logger)
        for try await row in lastRows.decode((Int64, String).self) { last = row }

        var head: (sequence: Int64, hash: String)?
        let headRows = try await connection.query(
            "SELECT sequence, hash FROM audit_events WHERE sequence IS NOT NULL ORDER BY sequence DESC LIMIT 1",
            logger: logger)
        for try await row in headRows.decode((Int64, String).self) { head = row }
        guard let head else { return .unchanged }

        if let last {
            var chained: String?
            let rows = try await connection.query(
                "SELECT hash FROM audit_events WHERE sequence = \(last.sequence)", logger: logger)
            for try await hash in rows.decode(String.self) { chained = hash }
            guard let chained, chained == last.hash else { return .chainDisagrees(sequence: last.sequence) }
            let moved = try await connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM audit_events
                               WHERE sequence > \(last.sequence) AND type <> \(AuditCheckpoint.eventType))
                """, logger: logger)
            var hasMoved = false
            for try await value in moved.decode(Bool.self) { hasMoved = value }
            guard hasMoved else { return .unchanged }
        }

        let now = auditLog.clock.now()
        let checkpoint = try AuditCheckpoint.sign(sequence: head.sequence, hash: head.hash, time: now, with: keys)
        let eventID = try await auditLog.append(checkpoint.event, on: connection, logger: logger)
        // `sign` makes both; the row's columns need both.
        guard let ed25519 = checkpoint.signature(.ed25519), let mlDSA65 = checkpoint.signature(.mlDSA65) else {
            throw AuditCheckpointError(
                code: AuditCheckpointError.signingFailedCode, message: "a checkpoint signature is missing")
        }
        let inserted = try await connection.query(
            """
            INSERT INTO audit_checkpoints (sequence, hash, time, signed_at, ed25519_key_id, ed25519_signature,
                                           mldsa65_key_id, mldsa65_signature, event_id)
            VALUES (\(checkpoint.sequence), \(checkpoint.hash), \(checkpoint.time), \(now),
                    \(ed25519.keyID), \(Data(ed25519.bytes)), \(mlDSA65.keyID), \(Data(mlDSA65.bytes)), \(eventID))
            ON CONFLICT (sequence) DO NOTHING
            RETURNING sequence
            """, logger: logger)
        var recorded = false
        for try await _ in inserted.decode(Int64.self) { recorded = true }
        // Recorded already (by a replica that signed without the lock): roll back this event too.
        guard recorded else { throw AlreadyRecorded() }
        return .signed(checkpoint)
    }

    /// The latest checkpoint recorded in `database`, if any.
    public static func latest(in database: Database, logger: Logger) async throws -> AuditCheckpoint? {
        let rows = try await database.client.query(
            """
            SELECT sequence, hash, time, ed25519_key_id, ed25519_signature, mldsa65_key_id, mldsa65_signature
            FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1
            """, logger: logger)
        for try await (sequence, hash, time, edID, edSignature, mlID, mlSignature)
            in rows.decode((Int64, String, String, String, Data, String, Data).self) {
            return try AuditCheckpoint(
                sequence: sequence, hash: hash, time: time,
                signatures: [
                    .init(algorithm: .ed25519, keyID: edID, bytes: Array(edSignature)),
                    .init(algorithm: .mlDSA65, keyID: mlID, bytes: Array(mlSignature)),
                ])
        }
        return nil
    }
}

/// The head was recorded by another signer in the meantime; the transaction is rolled back.
private struct AlreadyRecorded: Error {}
