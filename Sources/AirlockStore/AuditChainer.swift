import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Links committed audit events into the gap-free hash chain.
///
/// Every replica runs one; a transaction-scoped advisory lock lets only one of them chain at a time, and the
/// lock is never held by writers, so appending never waits on the chain. Each pass takes the events that have
/// committed since the last pass, in the order they were inserted, and gives them the next sequence numbers,
/// so events are chained in commit order at the granularity of a pass (a fraction of a second).
public struct AuditChainer: Service {
    /// The advisory lock key that elects the single chainer of a pass (`AIRLOCK` + 2).
    public static let advisoryLockKey: Int64 = 0x4149_524C_4F43_4B02

    let database: Database
    let interval: Duration
    let batchSize: Int
    let logger: Logger
    let isDatabaseReady: @Sendable () -> Bool
    /// The key of a keyed chain (`audit.chain_key_file`), or nil for plain SHA-256 hashes.
    let chainKey: AuditChainKey?
    /// Ends the wait between passes early: events were appended that a webhook endpoint waits for (the
    /// `airlock_audit_appended` notification of the outbox trigger, heard by an ``AuditChainListener``).
    public let appended = WakeSignal()
    private let chained = Counter(label: "airlock_audit_events_chained_total")
    private let failures = Counter(label: "airlock_audit_chain_failures_total")

    /// Creates a chainer that looks for new events every `interval`, once `isDatabaseReady` says the database
    /// answers and its schema is current; with `chainKey`, it hashes with HMAC-SHA-256 under that key.
    public init(
        database: Database, interval: Duration = .milliseconds(100), batchSize: Int = 1000, chainKey: AuditChainKey? = nil,
        logger: Logger, isDatabaseReady: @escaping @Sendable () -> Bool = { true }
    ) {
        self.chainKey = chainKey
        self.database = database
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
        self.isDatabaseReady = isDatabaseReady
    }

    public func run() async throws {
        var consecutiveFailures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard isDatabaseReady() else {
                await pause()
                continue
            }
            do {
                let count = try await chainPending()
                if consecutiveFailures > 0 {
                    logger.info("audit chainer recovered")
                    consecutiveFailures = 0
                }
                if count == batchSize { continue }
            } catch let error as AuditChainError {
                consecutiveFailures += 1
                failures.increment()
                if consecutiveFailures == 1 || consecutiveFailures.isMultiple(of: 600) {
                    logger.error("audit chainer: \(error.message)")
                }
            } catch {
                consecutiveFailures += 1
                failures.increment()
                if consecutiveFailures == 1 || consecutiveFailures.isMultiple(of: 50) {
                    logger.warning("audit chainer cannot reach the database; retrying",
                                   metadata: ["error": "\(describeDatabaseError(error))"])
                }
            }
            // Graceful shutdown ends the wait at once; the pass below then chains what is left.
            await pause()
        }
        if !Task.isCancelled && isDatabaseReady() {
            _ = try? await chainPending()
        }
    }

    /// Waits `interval`, less when woken by ``appended`` or at graceful shutdown.
    private func pause() async {
        let appended = self.appended, interval = self.interval
        try? await cancelWhenGracefulShutdown { await appended.wait(upTo: interval) }
    }

    /// Chains the committed, unchained events (at most one batch) and returns how many it chained:
    /// zero if there were none or another replica holds the chain this moment.
    @discardableResult
    public func chainPending() async throws -> Int {
        do {
            return try await chainBatch()
        } catch let error as PostgresTransactionError {
            if let refusal = error.closureError as? AuditChainError, error.rollbackError == nil { throw refusal }
            throw error
        }
    }

    private func chainBatch() async throws -> Int {
        let chainKey = self.chainKey
        return try await database.client.withTransaction(logger: logger) { connection in
            let locked = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.advisoryLockKey))", logger: logger)
            var haveLock = false
            for try await value in locked.decode(Bool.self) { haveLock = value }
            guard haveLock else { return 0 }

            var lastSequence: Int64 = 0
            var lastHash = AuditChain.genesisHash
            var lastKeyID: String?
            let tail = try await connection.query(
                """
                SELECT sequence, hash, chain_key_id FROM audit_events WHERE sequence IS NOT NULL
                ORDER BY sequence DESC LIMIT 1
                """, logger: logger)
            for try await (sequence, hash, keyID) in tail.decode((Int64, String, String?).self) {
                lastSequence = sequence
                lastHash = hash
                lastKeyID = keyID
            }
            // A keyed chain never goes back to plain hashes: a broker without the key leaves the events to one
            // that has it (and says so) rather than weaken the chain.
            if let lastKeyID, chainKey == nil {
                throw AuditChainError.keyedChain(sequence: lastSequence, keyID: lastKeyID)
            }

            let pending = try await connection.query(
                """
                SELECT id, event FROM audit_events WHERE sequence IS NULL ORDER BY ingest_id LIMIT \(batchSize)
                """, logger: logger)
            var ids: [UUID] = []
            var sequences: [Int64] = []
            var prevhashes: [String] = []
            var hashes: [String] = []
            for try await (id, event) in pending.decode((UUID, String).self) {
                let hash = AuditChain.hash(prevhash: lastHash, event: event, key: chainKey)
                lastSequence += 1
                ids.append(id)
                sequences.append(lastSequence)
                prevhashes.append(lastHash)
                hashes.append(hash)
                lastHash = hash
            }
            guard !ids.isEmpty else { return 0 }
            if let chainKey, lastKeyID == nil {
                // The operator verifies with `--keyed-from` this sequence: keep it outside the database.
                logger.notice("audit chain keyed from sequence \(sequences[0]) (chain key \(chainKey.keyID))")
            }
            self.chained.increment(by: ids.count)
            // The webhook deliveries of these events learn their place in the chain in the same statement: a
            // dispatcher reads an endpoint's next events by it (migration 0014).
            try await connection.query(
                """
                WITH chained AS (
                    UPDATE audit_events AS a
                    SET sequence = u.sequence, prevhash = u.prevhash, hash = u.hash, chained_at = now(),
                        chain_key_id = \(chainKey?.keyID)
                    FROM unnest(\(ids)::uuid[], \(sequences)::bigint[], \(prevhashes)::text[], \(hashes)::text[])
                        AS u(id, sequence, prevhash, hash)
                    WHERE a.id = u.id AND a.sequence IS NULL
                    RETURNING a.id, a.sequence
                )
                UPDATE webhook_deliveries AS d SET sequence = chained.sequence
                FROM chained WHERE d.event_id = chained.id
                """, logger: logger)
            // Every broker's webhook dispatcher wakes at commit (``AuditChainListener``).
            try await connection.query(
                "SELECT pg_notify(\(AuditChainListener.channel), \(String(lastSequence)))", logger: logger)
            return ids.count
        }
    }
}

/// Why the chainer will not chain.
public struct AuditChainError: Error, Sendable, Equatable {
    /// `audit_chain_keyed`: the chain is keyed and this broker has no chain key.
    public static let keyedChainCode = "audit_chain_keyed"

    public let code: String
    /// One line for people, without secrets.
    public let message: String

    static func keyedChain(sequence: Int64, keyID: String) -> AuditChainError {
        AuditChainError(
            code: keyedChainCode,
            message: "the audit chain is keyed (event \(sequence) by chain key \(keyID)) but this broker has no "
                + "audit.chain_key_file: it chains nothing, so the chain is never weakened to plain hashes; give it the key")
    }
}
