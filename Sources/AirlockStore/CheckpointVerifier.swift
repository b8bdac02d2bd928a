import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The outcome of checking the audit chain against a signed checkpoint a receiver kept.
public struct CheckpointVerification: Sendable, Equatable {
    /// The checkpoint, whose signatures verified.
    public let checkpoint: AuditCheckpoint
    /// The walk of the whole chain.
    public let chain: ChainVerification
    /// Why the chain is not the one the checkpoint attests (nil: it verifies end to end and still holds event
    /// `checkpoint.sequence` with exactly the signed hash).
    public let problem: String?

    /// Whether the chain verified and contains the checkpoint.
    public var isIntact: Bool { problem == nil }
}

/// Checks the audit chain against a checkpoint: both signatures first (a forged or altered checkpoint is refused
/// before the database is read), then the whole chain (``ChainVerifier``), then that the chain still reaches the
/// checkpoint's sequence with exactly the signed hash. The chain alone cannot show that its newest events were
/// deleted; a checkpoint signed before the deletion can.
public struct CheckpointVerifier: Sendable {
    let database: Database
    let pageSize: Int
    let chainKeys: [AuditChainKey]
    let keyedFrom: Int64?

    /// A verifier of the chain in `database` (keyed: see ``ChainVerifier``).
    public init(database: Database, pageSize: Int = 2000, chainKeys: [AuditChainKey] = [], keyedFrom: Int64? = nil) {
        self.database = database
        self.pageSize = pageSize
        self.chainKeys = chainKeys
        self.keyedFrom = keyedFrom
    }

    /// Verifies `checkpoint` against `keys`, then the chain against it.
    /// - Throws: ``AuditCheckpointError`` when the checkpoint's signatures do not both verify under `keys`; a
    ///   database error when the chain cannot be read.
    public func verify(
        _ checkpoint: AuditCheckpoint, trusting keys: AuditCheckpointKeySet, logger: Logger
    ) async throws -> CheckpointVerification {
        try checkpoint.verify(trusting: keys)
        let chain = try await ChainVerifier(
            database: database, pageSize: pageSize, chainKeys: chainKeys, keyedFrom: keyedFrom).verify(logger: logger)
        let problem: String?
        if let broken = chain.problem, broken.sequence <= checkpoint.sequence {
            problem = "the chain is broken at sequence \(broken.sequence), within the checkpoint: \(broken.reason)"
        } else if let broken = chain.problem {
            problem = "the chain is broken at sequence \(broken.sequence), after the checkpoint: \(broken.reason)"
        } else if chain.lastSequence < checkpoint.sequence {
            problem = chain.lastSequence == 0
                ? "the chain is empty but the checkpoint attests events 1…\(checkpoint.sequence): the log was truncated"
                : "the chain ends at sequence \(chain.lastSequence) but the checkpoint attests \(checkpoint.sequence): "
                    + "events \(chain.lastSequence + 1)…\(checkpoint.sequence) were removed (the log was truncated)"
        } else {
            var stored: String?
            let rows = try await database.client.query(
                "SELECT hash FROM audit_events WHERE sequence = \(checkpoint.sequence)", logger: logger)
            for try await hash in rows.decode(String.self) { stored = hash }
            if stored == checkpoint.hash {
                problem = nil
            } else {
                problem = "event \(checkpoint.sequence) has hash \(stored ?? "(none)") but the checkpoint signed "
                    + "\(checkpoint.hash): the chain up to it was rewritten"
            }
        }
        return CheckpointVerification(checkpoint: checkpoint, chain: chain, problem: problem)
    }

    /// Reads a checkpoint as a receiver kept it: the `airlock.audit.checkpoint` CloudEvent a webhook delivered, or
    /// its `data.checkpoint` object.
    /// - Throws: `invalid_checkpoint` naming what is wrong.
    public static func readCheckpoint(fromFile path: String) throws(AuditCheckpointError) -> AuditCheckpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuditCheckpointError(
                code: AuditCheckpointError.invalidCheckpointCode, message: "cannot read the checkpoint file `\(path)`")
        }
        guard let json = try? JSONValue.parse(data) else {
            throw AuditCheckpointError(
                code: AuditCheckpointError.invalidCheckpointCode, message: "`\(path)` is not JSON")
        }
        do {
            return try AuditCheckpoint(received: json)
        } catch {
            throw AuditCheckpointError(code: error.code, message: "`\(path)`: \(error.message)")
        }
    }

    /// Reads public keys in the form `GET /.well-known/airlock-audit-keys` answers.
    /// - Throws: `invalid_checkpoint_keys`.
    public static func readKeys(fromFile path: String) throws(AuditCheckpointError) -> AuditCheckpointKeySet {
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONValue.parse(data) else {
            throw AuditCheckpointError(
                code: AuditCheckpointError.invalidKeysCode, message: "cannot read public keys (JSON) from `\(path)`")
        }
        do {
            return try AuditCheckpointKeySet(json: json)
        } catch {
            throw AuditCheckpointError(code: error.code, message: "`\(path)`: \(error.message)")
        }
    }
}
