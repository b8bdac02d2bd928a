import AirlockPostgres
import AirlockStore
import Logging
import ServiceLifecycle

/// Finishes key rotations in the background: every `interval` (the first time one interval after start, so that
/// start-up does not wait on it), re-encrypts the secrets still sealed with a retired data key under the active
/// one and destroys each retired data key nothing uses any more (``DataKeyStore/reencrypt(batchSize:skipLocked:logger:)``,
/// which skips rows other replicas hold). `airlock keys rotate` normally leaves nothing to do; after
/// `airlock keys rotate --background`, or a rotation cut short, this is what finishes it.
struct SecretReencryption: Service {
    let keys: DataKeyStore
    let readiness: Readiness
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isCancelled, !Task.isShuttingDownGracefully, readiness.isMet("database") else { continue }
            do {
                let pass = try await keys.reencrypt(logger: logger)
                if pass.reencrypted > 0 || !pass.destroyed.isEmpty {
                    logger.info("re-encrypted secrets under the active data key", metadata: [
                        "secrets": "\(pass.reencrypted)", "destroyed_data_keys": "\(pass.destroyed.count)",
                    ])
                }
            } catch {
                logger.warning("secret re-encryption failed; retrying", metadata: ["error": "\(describeDatabaseError(error))"])
            }
        }
    }
}

extension SecretReencryption: CustomStringConvertible {
    var description: String { "SecretReencryption(every \(interval))" }
}
