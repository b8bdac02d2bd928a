import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import AirlockCore

@Suite("Key rotation on PostgreSQL", .timeLimit(.minutes(3)))
struct KeyRotationTests {
    let logger = Support.logger
    static let secrets: [String: [UInt8]] = [
        "orders-db": Array("orders admin password".utf8),
        "billing-db": Array("billing admin password".utf8),
        "ledger-db": Array("ledger admin password".utf8),
    ]
    static let webhookID = UUID()
    static let webhookSecret = Array("whsec_endpoint-signing-key".utf8)

    static var webhookContext: EncryptionContext {
        SealedColumn.webhookSecret.context(row: webhookID.uuidString.lowercased())
    }

    /// Seals the three resource passwords and the webhook secret with a store on `ring` and stores them.
    static func sealAll(_ ring: KeyRing, in database: Database) async throws {
        let store = DataKeyStore(database: database, keyRing: ring)
        for (id, secret) in secrets {
            let sealed = try await store.seal(secret, context: KnownResources.context(id), logger: Support.logger)
            try await DataKeyStoreTests.insertResource(id, ciphertext: sealed.bytes, in: database)
        }
        let sealed = try await store.seal(webhookSecret, context: webhookContext, logger: Support.logger)
        try await database.client.query(
            """
            INSERT INTO webhook_endpoints (id, url, secret, created_at)
            VALUES (\(webhookID), 'https://hooks.example/airlock', \(sealed.data), now())
            """, logger: Support.logger)
    }

    /// Every stored secret with its context and plaintext.
    static func storedSecrets(in database: Database) async throws -> [(SealedSecret, EncryptionContext, [UInt8])] {
        var all: [(SealedSecret, EncryptionContext, [UInt8])] = []
        for (id, secret) in secrets.sorted(by: { $0.key < $1.key }) {
            all.append((try await DataKeyStoreTests.storedSecret(id, in: database), KnownResources.context(id), secret))
        }
        let rows = try await database.client.query(
            "SELECT secret FROM webhook_endpoints WHERE id = \(webhookID)", logger: Support.logger)
        for try await bytes in rows.decode(Data.self) {
            all.append((try SealedSecret(data: bytes), webhookContext, webhookSecret))
        }
        return all
    }

    /// Adds `count` retired data keys wrapped by `kek` that seal nothing.
    static func addRetiredKeys(_ count: Int, wrappedBy kek: KeyEncryptionKey, in database: Database) async throws {
        for _ in 0..<count {
            let wrapped = try DataKey.generate().wrap(with: kek)
            try await database.client.query(
                """
                INSERT INTO data_keys (id, kek_id, wrapped, active)
                VALUES (\(wrapped.dataKeyID), \(wrapped.kekID), \(Data(wrapped.wrapped)), false)
                """, logger: Support.logger)
        }
    }

    /// `airlock keys rotate` to `ring.current`.
    @discardableResult
    func rotate(_ ring: KeyRing, in database: Database, batchSize: Int = 100) async throws -> KeyRotation.Report {
        try await KeyRotation(keys: DataKeyStore(database: database, keyRing: ring))
            .run(KeyRotation.Options(batchSize: batchSize), logger: logger)
    }

    // MARK: item 1: a new data key, secrets re-encrypted, the old data key destroyed

    @Test("rotation seals with a new data key, re-encrypts every sealed column under it and destroys the old data key")
    func newDataKey() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            let backup = try await DataKeyStoreTests.dataKeys(in: database)
            #expect(backup.count == 1)

            try await rotate(KeyRing(current: b, previous: [a]), in: database, batchSize: 1)

            let keys = try await DataKeyStoreTests.dataKeys(in: database)
            #expect(keys.count == 1)
            #expect(keys.map(\.kekID) == [b.id])
            let newID = try #require(keys.first).dataKeyID
            #expect(!backup.map(\.dataKeyID).contains(newID))
            let onlyB = DataKeyStore(database: database, keyRing: KeyRing(current: b))
            let stored = try await Self.storedSecrets(in: database)
            #expect(stored.count == 4)
            // Whoever kept master key A and a copy of the old `data_keys` reads none of the current secrets.
            let oldKey = try #require(backup.first).unwrap(using: KeyRing(current: a))
            for (sealed, context, plaintext) in stored {
                #expect(sealed.dataKeyID == newID)
                #expect(try await onlyB.open(sealed, context: context, logger: logger) == plaintext)
                #expect(throws: CryptoError.self) { try sealed.open(with: oldKey, context: context) }
            }
            // New secrets use the new data key, and so does a store that started before the rotation.
            let fresh = try await onlyB.seal(Array("new".utf8), context: KnownResources.context("new-db"), logger: logger)
            #expect(fresh.dataKeyID == newID)
            #expect(throws: CryptoError.self) { try fresh.open(with: oldKey, context: KnownResources.context("new-db")) }
        }
    }

    @Test("brokers finish a rotation in the background: a resumable pass that leaves held rows for the next one")
    func backgroundReencryption() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            let old = try #require(try await DataKeyStoreTests.dataKeys(in: database).first).dataKeyID
            let ring = KeyRing(current: b, previous: [a])
            let started = try await KeyRotation(keys: DataKeyStore(database: database, keyRing: ring))
                .run(KeyRotation.Options(reencrypt: false), logger: logger)
            let newID = try #require(started.newDataKey)
            let usage = try await KeyUsage.load(from: database, logger: logger)
            #expect(usage.dataKeys.map(\.id) == [old, newID])
            #expect(usage.dataKeysByMasterKey == [b.id: 2])
            #expect(usage.dataKeys.map(\.secretCount) == [4, 0])
            #expect(usage.unfinished(currentMasterKey: b.id) == ["retired data key \(old.uuidString.lowercased()) still seals 4 secrets"])

            let broker = DataKeyStore(database: database, keyRing: ring)
            // A row someone holds is skipped by the brokers' pass (it does not wait), so its old key stays.
            let first = try await database.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT id FROM resources WHERE id = 'billing-db' FOR UPDATE", logger: logger)
                return try await broker.reencrypt(batchSize: 1, logger: logger)
            }
            #expect(first.reencrypted == 3 && first.failed.isEmpty && first.destroyed.isEmpty)
            let second = try await broker.reencrypt(batchSize: 1, logger: logger)
            #expect(second.reencrypted == 1 && second.destroyed == [old])
            let third = try await broker.reencrypt(logger: logger)
            #expect(third == DataKeyStore.Reencryption())

            let done = try await KeyUsage.load(from: database, logger: logger)
            #expect(done.dataKeys.map(\.id) == [newID])
            #expect(done.dataKeys.first?.secrets == ["resources.admin_secret": 3, "webhook_endpoints.secret": 1])
            #expect(done.unfinished(currentMasterKey: b.id).isEmpty)
            for (sealed, context, plaintext) in try await Self.storedSecrets(in: database) {
                #expect(sealed.dataKeyID == newID)
                #expect(try await broker.open(sealed, context: context, logger: logger) == plaintext)
            }
        }
    }

    @Test("a secret that cannot be opened keeps its data key, and the rotation says it is not complete")
    func unreadableSecretKeepsRotationIncomplete() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            try await database.client.query(
                "UPDATE resources SET admin_secret = set_byte(admin_secret, 40, get_byte(admin_secret, 40) # 1) WHERE id = 'ledger-db'",
                logger: logger)
            let rotation = KeyRotation(keys: DataKeyStore(database: database, keyRing: KeyRing(current: b, previous: [a])))
            let error = await #expect(throws: StoreError.self) { try await rotation.run(logger: logger) }
            #expect(error?.code == "rotation_incomplete")
            #expect(error?.message.contains("still seals 1 secret") == true)
            // The other secrets moved, and the kept data key is at least under the new master key.
            let keys = try await DataKeyStoreTests.dataKeys(in: database)
            #expect(keys.count == 2 && keys.allSatisfy { $0.kekID == b.id })
            let again = await #expect(throws: StoreError.self) {
                try await rotation.run(KeyRotation.Options(newDataKey: false), logger: logger)
            }
            #expect(again?.code == "rotation_incomplete")
        }
    }

    // MARK: item 2: one rotation at a time, success only when nothing is left behind

    @Test("a rotation waits for a data key row another transaction holds instead of skipping it and reporting success")
    func lockedRowIsNotSkipped() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            try await Self.addRetiredKeys(3, wrappedBy: a, in: database)
            let held = try #require(try await DataKeyStoreTests.dataKeys(in: database).first { $0.kekID == a.id })
            let locked = Flag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // What a concurrent rotation's batch looks like to this one: a row locked for a while.
                    try await database.client.withTransaction(logger: logger) { connection in
                        try await connection.query(
                            "SELECT id FROM data_keys WHERE id = \(held.dataKeyID) FOR UPDATE", logger: logger)
                        locked.raise()
                        try await Task.sleep(for: .milliseconds(1500))
                    }
                }
                while !locked.isRaised { try await Task.sleep(for: .milliseconds(10)) }
                try await rotate(KeyRing(current: b, previous: [a]), in: database)
                // Success means nothing is left under A, whatever was locked when the rotation began.
                let keys = try await DataKeyStoreTests.dataKeys(in: database)
                #expect(keys.allSatisfy { $0.kekID == b.id }, "still under the old master key: \(keys.filter { $0.kekID != b.id }.map(\.dataKeyID))")
                try await group.waitForAll()
            }
        }
    }

    @Test("two rotations to different master keys at once: at most one succeeds, and it leaves everything under its key")
    func concurrentRotations() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate(), c = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            try await Self.addRetiredKeys(40, wrappedBy: a, in: database)
            let rings = [KeyRing(current: b, previous: [a]), KeyRing(current: c, previous: [a])]
            let outcomes = try await withThrowingTaskGroup(of: (KeyRing, String?).self) { group in
                for ring in rings {
                    group.addTask {
                        do {
                            try await rotate(ring, in: database, batchSize: 2)
                            return (ring, nil)
                        } catch {
                            return (ring, (error as? StoreError)?.code ?? (error as? CryptoError)?.code ?? "\(error)")
                        }
                    }
                }
                var all: [(KeyRing, String?)] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            let winners = outcomes.filter { $0.1 == nil }.map(\.0)
            // Exactly one: the second either finds the lock taken or, after the first, a master key it lacks, and
            // then changes nothing; never both succeeding, nor both failing with the rows split between them.
            #expect(winners.count == 1, "\(winners.count) rotations reported success")
            #expect(Set(try await DataKeyStoreTests.dataKeys(in: database).map(\.kekID)).count == 1)
            for failure in outcomes.compactMap(\.1) {
                #expect(["rotation_in_progress", CryptoError.unknownKeyEncryptionKeyCode].contains(failure))
            }
            let keys = try await DataKeyStoreTests.dataKeys(in: database)
            if let winner = winners.first {
                #expect(keys.allSatisfy { $0.kekID == winner.current.id })
                let store = DataKeyStore(database: database, keyRing: KeyRing(current: winner.current))
                for (sealed, context, plaintext) in try await Self.storedSecrets(in: database) {
                    #expect(try await store.open(sealed, context: context, logger: logger) == plaintext)
                }
            }
        }
    }

    @Test("a rotation while another holds the rotation lock fails at once with rotation_in_progress and changes nothing")
    func rotationLockHeld() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            try await Self.sealAll(KeyRing(current: a), in: database)
            let before = try await DataKeyStoreTests.dataKeys(in: database)
            try await database.client.withConnection { connection in
                try await connection.query("SELECT pg_advisory_lock(\(KeyRotation.advisoryLockKey))", logger: logger)
                let error = await #expect(throws: StoreError.self) {
                    try await rotate(KeyRing(current: b, previous: [a]), in: database)
                }
                #expect(error?.code == "rotation_in_progress")
                #expect(error?.message.contains("airlock keys status") == true)
                try await connection.query("SELECT pg_advisory_unlock(\(KeyRotation.advisoryLockKey))", logger: logger)
            }
            #expect(try await DataKeyStoreTests.dataKeys(in: database) == before)
            try await rotate(KeyRing(current: b, previous: [a]), in: database)
        }
    }
}
