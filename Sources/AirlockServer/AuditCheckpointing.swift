import AirlockCore
import AirlockStore
import Logging
import ServiceLifecycle

/// The broker's audit checkpoints, wired from the configuration: the service that signs (none without a key) and
/// the public keys the well-known route publishes.
enum AuditCheckpointing {
    /// The signing service, or none (with a warning at start) when no checkpoint key is configured: a production
    /// broker never invents a key.
    static func services(
        config: ServerConfiguration, database: Database, auditLog: AuditLog, chainer: AuditChainer,
        readiness: Readiness
    ) -> [any Service] {
        let settings = config.settings
        if let chainKey = settings.auditChainKey {
            config.logger.info("audit chain keyed: hashes are HMAC-SHA-256 under the chain key", metadata: [
                "chain_key_id": "\(chainKey.keyID)",
            ])
        }
        guard let keys = settings.auditCheckpointKeys else {
            config.logger.warning(
                "no audit checkpoint key (audit.checkpoint_key_file): checkpoints are not signed, so removing the newest audit events cannot be proven (create a key with `airlock audit keygen`)")
            return []
        }
        config.logger.info("audit checkpoints on: the chain head is signed every interval and at shutdown", metadata: [
            "key_ids": "\(keys.publicKeys.keys.map(\.keyID).joined(separator: ","))",
            "interval": "\(settings.auditCheckpointInterval)",
        ])
        return [AuditCheckpointService(
            signer: AuditCheckpointSigner(database: database, keys: keys, auditLog: auditLog), chainer: chainer,
            interval: settings.auditCheckpointInterval, clock: config.checkpointClock, logger: config.logger,
            isDatabaseReady: { readiness.isMet("database") })]
    }

    /// What `GET /.well-known/airlock-audit-keys` publishes: the configured key's public halves, or nothing.
    static func publicKeys(_ settings: AirlockConfiguration) -> AuditCheckpointKeySet {
        settings.auditCheckpointKeys?.publicKeys ?? AuditCheckpointKeySet([])
    }
}
