import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation

/// `airlock audit verify --checkpoint FILE [--keys FILE]`: both signatures of the checkpoint first (a forged one is
/// refused before the database is read), then the chain, then that the chain still holds the signed sequence and
/// hash. Exit 1 on a refused checkpoint, a broken chain or a truncated one.
struct CheckpointCheck {
    let checkpointFile: String
    let keysFile: String?
    var chainKeys: [AuditChainKey] = []
    var keyedFrom: Int64?
    let json: Bool

    func run(options: ServerOptions) async throws {
        let checkpoint: AuditCheckpoint
        let trusted: AuditCheckpointKeySet
        do {
            checkpoint = try CheckpointVerifier.readCheckpoint(fromFile: checkpointFile)
            if let keysFile {
                trusted = try CheckpointVerifier.readKeys(fromFile: keysFile)
            } else if let keys = try options.load().auditCheckpointKeys {
                trusted = keys.publicKeys
            } else {
                throw ValidationError(
                    "no public keys to check the checkpoint with: pass --keys FILE (what GET /.well-known/airlock-audit-keys answers) or configure audit.checkpoint_key_file")
            }
            try checkpoint.verify(trusting: trusted)
        } catch let error as AuditCheckpointError {
            print(Self.refused(error, json: json))
            throw ExitCode(1)
        }
        let chainKeys = self.chainKeys, keyedFrom = self.keyedFrom
        let result = try await options.withDatabase { database, _, logger in
            try await CheckpointVerifier(database: database, chainKeys: chainKeys, keyedFrom: keyedFrom)
                .verify(checkpoint, trusting: trusted, logger: logger)
        }
        print(Self.report(result, json: json))
        if !result.isIntact { throw ExitCode(1) }
    }

    /// The line for a checkpoint whose signatures do not both verify.
    static func refused(_ error: AuditCheckpointError, json: Bool) -> String {
        guard json else { return "checkpoint REFUSED: \(error.message)" }
        return JSONValue.object([
            "intact": false, "checkpoint_valid": false, "code": .string(error.code), "reason": .string(error.message),
        ]).canonicalString()
    }

    /// The report of a checkpoint that verified, against the chain.
    static func report(_ result: CheckpointVerification, json: Bool) -> String {
        let checkpoint = result.checkpoint
        if json {
            var object: [String: JSONValue] = [
                "intact": .bool(result.isIntact), "checkpoint_valid": true,
                "checkpoint_sequence": .int(checkpoint.sequence), "checkpoint_hash": .string(checkpoint.hash),
                "checkpoint_time": .string(checkpoint.time), "checked": .int(result.chain.checked),
                "last_sequence": .int(result.chain.lastSequence), "last_hash": .string(result.chain.lastHash),
                "unchained": .int(result.chain.unchained),
            ]
            if let problem = result.problem { object["reason"] = .string(problem) }
            if let broken = result.chain.problem { object["first_bad_sequence"] = .int(broken.sequence) }
            return JSONValue.object(object).canonicalString()
        }
        let signed = "checkpoint \(checkpoint.sequence) (signed \(checkpoint.time) by "
            + "\(checkpoint.signatures.map(\.keyID).joined(separator: " and ")))"
        if let problem = result.problem {
            return "audit chain BROKEN against \(signed): \(problem)"
        }
        return "audit chain intact and contains \(signed): \(result.chain.checked) events, "
            + "head \(result.chain.lastSequence) \(result.chain.lastHash)"
    }
}
