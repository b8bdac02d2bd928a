import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

/// Signed checkpoints on PostgreSQL: what the signer records and appends, the service's timing and shutdown, and
/// that a kept checkpoint proves the chain was not truncated or rewritten.
@Suite("Audit checkpoints on PostgreSQL", .timeLimit(.minutes(2)))
struct AuditCheckpointStoreTests {
    static let keys = try! AuditCheckpointKeys.generate()  // test fixture
    static let forger = try! AuditCheckpointKeys.generate()  // test fixture
    let logger = Support.logger

    static func signer(_ database: Database, keys: AuditCheckpointKeys = keys) -> AuditCheckpointSigner {
        AuditCheckpointSigner(database: database, keys: keys, auditLog: Support.auditLog)
    }

    static func signed(_ outcome: AuditCheckpointSigner.Outcome) throws -> AuditCheckpoint {
        guard case .signed(let checkpoint) = outcome else { throw TestFailure("expected a checkpoint, got \(outcome)") }
        return checkpoint
    }

    @Test func theHeadIsSignedRecordedAndAppendedAsAnEventInOneTransaction() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 3, in: database)
            let head = try #require(try await AuditReader.events(in: database, order: .chained).last)
            let checkpoint = try Self.signed(try await Self.signer(database).signHead(logger: logger))
            #expect(checkpoint.sequence == 3)
            #expect(checkpoint.hash == head.hash)
            try checkpoint.verify(trusting: Self.keys.publicKeys)
            #expect(try await AuditCheckpointSigner.latest(in: database, logger: logger) == checkpoint)

            // The event carries the checkpoint as delivered to webhooks; once chained it is event 4.
            #expect(try await Support.drain(database) == 1)
            let event = try #require(try await AuditReader.events(in: database, type: AuditCheckpoint.eventType).first)
            #expect(event.sequence == 4)
            #expect(event.subject == "3")
            #expect(event.severity == "info")
            let parsed = try JSONValue.parse(event.event)
            #expect(parsed["data"]?["checkpoint"] == checkpoint.json)
            #expect(parsed["data"]?["channels"] == [])
            #expect(parsed["data"]?["severity"] == "info")
            #expect(try AuditCheckpoint(received: parsed) == checkpoint)
            #expect(try await Support.count(
                "SELECT count(*) FROM audit_checkpoints WHERE event_id = \(event.id)", in: database) == 1)

            // Only the checkpoint event moved the head: nothing to sign. A new event moves it.
            #expect(try await Self.signer(database).signHead(logger: logger) == .unchanged)
            try await Support.appendCommitted("e4", in: database)
            #expect(try await Support.drain(database) == 1)
            let next = try Self.signed(try await Self.signer(database).signHead(logger: logger))
            #expect(next.sequence == 5)
            #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
        }
    }

    @Test func anEmptyChainIsNotSigned() async throws {
        try await TestDatabase.withDatabase { database in
            let outcome = try await Self.signer(database).signHead(logger: logger)
            #expect(outcome == .unchanged)
            #expect(try await AuditCheckpointSigner.latest(in: database, logger: logger) == nil)
        }
    }

    @Test func replicasSignEachHeadOnce() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 2, in: database)
            // While another replica holds the lock, a pass does nothing.
            let outcome = try await database.client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(AuditCheckpointSigner.advisoryLockKey))", logger: logger)
                return try await Self.signer(database).signHead(logger: logger)
            }
            #expect(outcome == .busy)
            // Eight replicas at once: one checkpoint of head 2, one event.
            let outcomes = try await withThrowingTaskGroup(of: AuditCheckpointSigner.Outcome.self) { group in
                for _ in 0..<8 { group.addTask { try await Self.signer(database).signHead(logger: logger) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { if case .signed = $0 { true } else { false } }.count == 1)
            #expect(try await Support.count("SELECT count(*) FROM audit_checkpoints", in: database) == 1)
            #expect(try await AuditReader.events(in: database, type: AuditCheckpoint.eventType).count == 1)
        }
    }

    @Test func theSignerRefusesToVouchForAChainThatLostItsLastCheckpoint() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 5, in: database)
            _ = try Self.signed(try await Self.signer(database).signHead(logger: logger))
            _ = try await Support.drain(database)
            try await Support.execute("DELETE FROM audit_events WHERE sequence >= 4", in: database)
            try await Support.appendCommitted("after-truncation", in: database)
            _ = try await Support.drain(database)
            #expect(try await Self.signer(database).signHead(logger: logger) == .chainDisagrees(sequence: 5))
        }
    }

    @Test func theServiceSignsWhenTheInjectedClockSaysAndOnceMoreAtShutdown() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = ManualClock()
            let service = AuditCheckpointService(
                signer: Self.signer(database), chainer: AuditChainer(database: database, logger: logger),
                interval: .seconds(300), clock: clock, logger: logger)
            let group = ServiceGroup(services: [service], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await clock.waitForSleeps(1)
                try await Support.chain(of: 3, in: database)
                clock.advance(by: .seconds(299))
                #expect(clock.sleepsBegun == 1)
                #expect(try await AuditCheckpointSigner.latest(in: database, logger: logger) == nil)

                clock.advance(by: .seconds(1))
                try await clock.waitForSleeps(2)  // the pass is over: waiting for the next interval
                let first = try #require(try await AuditCheckpointSigner.latest(in: database, logger: logger))
                #expect(first.sequence == 3)

                // Events committed but not chained when the broker stops are chained, then signed.
                try await Support.appendCommitted("late-1", in: database)
                try await Support.appendCommitted("late-2", in: database)
                await group.triggerGracefulShutdown()
                try await tasks.next()
            }
            let last = try #require(try await AuditCheckpointSigner.latest(in: database, logger: logger))
            // 1…3, the first checkpoint's event (4), late-1 (5) and late-2 (6).
            #expect(last.sequence == 6)
            try last.verify(trusting: Self.keys.publicKeys)
            let rows = try await AuditReader.events(in: database, order: .chained)
            #expect(rows.first { $0.sequence == 6 }?.subject == "late-2")
            #expect(rows.first { $0.sequence == 6 }?.hash == last.hash)
            // The shutdown checkpoint's own event waits for the chainer's last pass (the broker stops it later).
            let events = try await AuditReader.events(in: database, type: AuditCheckpoint.eventType, order: .chained)
            #expect(events.map(\.subject) == ["3", "6"])
            #expect(events.last?.sequence == nil)
        }
    }

    @Test func noPrivateKeyReachesTheAuditTables() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 2, in: database)
            _ = try Self.signed(try await Self.signer(database).signHead(logger: logger))
            _ = try await Support.drain(database)
            let file = try JSONValue.parse(Self.keys.fileContents)
            let secrets = ["ed25519_private_key", "ml_dsa_65_seed"].compactMap { file[$0]?.stringValue }
            #expect(secrets.count == 2)
            let rows = try await database.client.query(
                """
                SELECT event FROM audit_events
                UNION ALL SELECT concat_ws(' ', sequence, hash, time, ed25519_key_id, encode(ed25519_signature, 'base64'),
                                           encode(ed25519_signature, 'hex'), mldsa65_key_id,
                                           encode(mldsa65_signature, 'hex')) FROM audit_checkpoints
                """, logger: logger)
            var scanned = 0
            for try await text in rows.decode(String.self) {
                scanned += 1
                for secret in secrets {
                    #expect(!text.contains(secret))
                    #expect(!text.contains(Digest.hex(Data(base64Encoded: secret) ?? Data())))
                }
            }
            #expect(scanned == 4)
        }
    }

    // MARK: - Checking the chain against a kept checkpoint

    /// A chain of ten events with a checkpoint of head 10 (then the checkpoint's event and two more events chained).
    static func chainWithCheckpoint(_ database: Database) async throws -> AuditCheckpoint {
        try await Support.chain(of: 10, in: database)
        let checkpoint = try signed(try await signer(database).signHead(logger: Support.logger))
        try await Support.appendCommitted("after-1", in: database)
        try await Support.appendCommitted("after-2", in: database)
        _ = try await Support.drain(database)
        return checkpoint
    }

    @Test func anIntactChainContainsItsCheckpoint() async throws {
        try await TestDatabase.withDatabase { database in
            let checkpoint = try await Self.chainWithCheckpoint(database)
            let result = try await CheckpointVerifier(database: database)
                .verify(checkpoint, trusting: Self.keys.publicKeys, logger: logger)
            #expect(result.isIntact, "\(result.problem ?? "")")
            #expect(result.chain.lastSequence == 13)
        }
    }

    @Test("truncating the newest events is detected against an earlier checkpoint, though the chain alone verifies",
          arguments: [11, 10, 7, 1])
    func truncation(from sequence: Int) async throws {
        try await TestDatabase.withDatabase { database in
            let checkpoint = try await Self.chainWithCheckpoint(database)
            try await Support.execute("DELETE FROM audit_events WHERE sequence >= \(sequence)", in: database)
            try await Support.execute("DELETE FROM audit_checkpoints", in: database)

            let chainOnly = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(chainOnly.isIntact)  // the gap checkpoints close
            let result = try await CheckpointVerifier(database: database)
                .verify(checkpoint, trusting: Self.keys.publicKeys, logger: logger)
            if sequence > 10 {
                #expect(result.isIntact)  // what was removed came after the checkpoint
            } else {
                let problem = try #require(result.problem)
                #expect(problem.contains("truncated"), "\(problem)")
                #expect(problem.contains("\(checkpoint.sequence)"))
            }
        }
    }

    @Test func aTruncatedChainThatGrewAgainIsDetectedByTheHash() async throws {
        try await TestDatabase.withDatabase { database in
            let checkpoint = try await Self.chainWithCheckpoint(database)
            try await Support.execute("DELETE FROM audit_events WHERE sequence >= 8", in: database)
            for index in 1...6 { try await Support.appendCommitted("regrown-\(index)", in: database) }
            _ = try await Support.drain(database)
            #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
            let result = try await CheckpointVerifier(database: database)
                .verify(checkpoint, trusting: Self.keys.publicKeys, logger: logger)
            let problem = try #require(result.problem)
            #expect(problem.contains("rewritten"), "\(problem)")
        }
    }

    /// How a forger with the database alters event 5 of the chain.
    enum Alteration: String, CaseIterable, Sendable {
        /// Edits the stored event only: the chain itself breaks at 5.
        case editOnly
        /// Edits it and recomputes every hash after it: the chain alone verifies, the checkpoint's hash differs.
        case editAndRehash
    }

    @Test("an altered row is reported as broken", arguments: Alteration.allCases)
    func alteredRow(_ alteration: Alteration) async throws {
        try await TestDatabase.withDatabase { database in
            let checkpoint = try await Self.chainWithCheckpoint(database)
            switch alteration {
            case .editOnly:
                try await Support.execute(
                    "UPDATE audit_events SET event = replace(event, 'event-5', 'event-X') WHERE sequence = 5", in: database)
            case .editAndRehash:
                try await Self.rehash(database, editing: 5)
                #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
            }
            let result = try await CheckpointVerifier(database: database)
                .verify(checkpoint, trusting: Self.keys.publicKeys, logger: logger)
            let problem = try #require(result.problem)
            switch alteration {
            case .editOnly: #expect(problem.contains("broken at sequence 5"), "\(problem)")
            case .editAndRehash: #expect(problem.contains("rewritten"), "\(problem)")
            }
        }
    }

    /// Rewrites event `sequence` and recomputes every `prevhash` and `hash` from it on, as a forger with the
    /// database would: the chain alone then verifies.
    static func rehash(_ database: Database, editing sequence: Int64) async throws {
        try await Support.execute(
            "UPDATE audit_events SET event = replace(event, 'event-\(sequence)', 'event-X') WHERE sequence = \(sequence)",
            in: database)
        let rows = try await AuditReader.events(in: database, order: .chained).filter { $0.sequence != nil }
        var previous = AuditChain.genesisHash
        // Unique hashes: move every hash out of the way first.
        try await Support.execute(
            "UPDATE audit_events SET hash = md5(hash) || md5(id::text) WHERE sequence IS NOT NULL", in: database)
        for row in rows {
            let hash = AuditChain.hash(prevhash: previous, event: row.event)
            try await database.client.query(
                "UPDATE audit_events SET prevhash = \(previous), hash = \(hash) WHERE id = \(row.id)",
                logger: Support.logger)
            previous = hash
        }
    }

    @Test func aForgedCheckpointIsRefusedBeforeTheChainIsRead() async throws {
        try await TestDatabase.withDatabase { database in
            let genuine = try await Self.chainWithCheckpoint(database)
            // A checkpoint of a later head, signed by keys the receiver does not trust.
            let forged = try AuditCheckpoint.sign(
                sequence: 3, hash: genuine.hash, time: Date(), with: Self.forger)
            let error = await #expect(throws: AuditCheckpointError.self) {
                try await CheckpointVerifier(database: database)
                    .verify(forged, trusting: Self.keys.publicKeys, logger: logger)
            }
            #expect(error?.code == AuditCheckpointError.unknownKeyCode)
            // The genuine checkpoint with another sequence: the signatures no longer cover it.
            let altered = try AuditCheckpoint(
                sequence: 3, hash: genuine.hash, time: genuine.time, signatures: genuine.signatures)
            let alteredError = await #expect(throws: AuditCheckpointError.self) {
                try await CheckpointVerifier(database: database)
                    .verify(altered, trusting: Self.keys.publicKeys, logger: logger)
            }
            #expect(alteredError?.code == AuditCheckpointError.signatureInvalidCode)
        }
    }

    @Test func aCheckpointIsReadFromTheDeliveredEventOrItsObject() async throws {
        let directory = try TemporaryDirectory()
        let checkpoint = try AuditCheckpoint.sign(
            sequence: 7, hash: String(repeating: "ab", count: 32), time: Date(), with: Self.keys)
        let event = checkpoint.event.cloudEvent(id: UUID(), source: "urn:airlock", time: Date())
        let eventFile = try directory.write("event.json", event.canonicalString())
        let objectFile = try directory.write("checkpoint.json", checkpoint.json.canonicalString())
        let keysFile = try directory.write("keys.json", Self.keys.publicKeys.json.canonicalString())
        #expect(try CheckpointVerifier.readCheckpoint(fromFile: eventFile) == checkpoint)
        #expect(try CheckpointVerifier.readCheckpoint(fromFile: objectFile) == checkpoint)
        #expect(try CheckpointVerifier.readKeys(fromFile: keysFile) == Self.keys.publicKeys)
        let missing = #expect(throws: AuditCheckpointError.self) {
            try CheckpointVerifier.readCheckpoint(fromFile: directory.url.appendingPathComponent("none").path)
        }
        #expect(missing?.code == AuditCheckpointError.invalidCheckpointCode)
    }
}
