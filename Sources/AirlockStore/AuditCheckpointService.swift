import AirlockCore
import AirlockPostgres
import Logging
import Metrics
import ServiceLifecycle

/// Signs the audit chain's head every `interval` (when it moved) and once more at graceful shutdown.
///
/// Every replica runs one; ``AuditCheckpointSigner`` lets one sign at a time and never signs a head twice. The wait
/// is measured on the injected `clock`, so tests drive it. At shutdown the service first chains what has committed
/// (so the last checkpoint covers everything this broker wrote), then signs; the broker stops this service before
/// the chainer, whose last pass then chains the checkpoint event itself.
public struct AuditCheckpointService: Service, CustomStringConvertible {
    let signer: AuditCheckpointSigner
    let chainer: AuditChainer?
    let interval: Duration
    let clock: any Clock<Duration>
    let logger: Logger
    let isDatabaseReady: @Sendable () -> Bool
    private let signed = Counter(label: "airlock_audit_checkpoints_signed_total")
    private let failures = Counter(label: "airlock_audit_checkpoint_failures_total")

    /// A service that signs with `signer` every `interval` of `clock` once `isDatabaseReady` says the database
    /// answers and its schema is current; `chainer` (if given) runs a last pass before the shutdown checkpoint.
    public init(
        signer: AuditCheckpointSigner, chainer: AuditChainer?, interval: Duration, clock: any Clock<Duration> = ContinuousClock(), logger: Logger,
        isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.signer = signer
        self.chainer = chainer
        self.interval = interval
        self.clock = clock
        self.logger = logger
        self.isDatabaseReady = isDatabaseReady
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Graceful shutdown ends the wait at once; the pass after the loop then signs the final head.
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { break }
            if isDatabaseReady() { await pass() }
        }
        guard !Task.isCancelled, isDatabaseReady() else { return }
        if let chainer {
            do {
                while try await chainer.chainPending() > 0 {}
            } catch {
                logger.warning("audit chainer failed before the shutdown checkpoint",
                               metadata: ["error": "\(describeDatabaseError(error))"])
            }
        }
        await pass()
    }

    /// One signing pass; what happened goes to the log and metrics, never up (the next pass tries again).
    func pass() async {
        do {
            switch try await signer.signHead(logger: logger) {
            case .signed(let checkpoint):
                signed.increment()
                logger.info("audit checkpoint signed", metadata: [
                    "sequence": "\(checkpoint.sequence)", "hash": "\(checkpoint.hash)",
                    "key_ids": "\(checkpoint.signatures.map(\.keyID).joined(separator: ","))",
                ])
            case .unchanged, .busy:
                break
            case .chainDisagrees(let sequence):
                failures.increment()
                logger.error(
                    "the audit chain no longer holds the last checkpoint's hash at its sequence: not signing (run `airlock audit verify`)",
                    metadata: ["sequence": "\(sequence)"])
            }
        } catch {
            failures.increment()
            logger.warning("audit checkpoint failed; retrying at the next interval",
                           metadata: ["error": "\(describeDatabaseError(error))"])
        }
    }

    public var description: String { "AuditCheckpointService(every \(interval))" }
}
