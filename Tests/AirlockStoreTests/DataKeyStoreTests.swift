import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import AirlockCore

@Suite("DataKeyStore on PostgreSQL", .timeLimit(.minutes(2)))
struct DataKeyStoreTests {
    let logger = Support.logger
    let context = EncryptionContext(table: "resources", row: "orders-db", column: "admin_secret")
    let secret = Array("orders admin password: correct horse battery staple".utf8)

    /// Inserts resource `id` holding `ciphertext` in `admin_secret`.
    static func insertResource(_ id: String, ciphertext: [UInt8], in database: Database) async throws {
        try await database.client.query(
            "INSERT INTO resources (id, kind, env, admin_secret) VALUES (\(id), 'postgres', 'prod', \(Data(ciphertext)))",
            logger: Support.logger)
    }

    /// The stored `admin_secret` of resource `id`.
    static func storedSecret(_ id: String, in database: Database) async throws -> SealedSecret {
        let rows = try await database.client.query(
            "SELECT admin_secret FROM resources WHERE id = \(id)", logger: Support.logger)
        for try await bytes in rows.decode(Data.self) { return try SealedSecret(data: bytes) }
        throw TestFailure("no resource \(id)")
    }

    /// The rows of `data_keys`.
    static func dataKeys(in database: Database) async throws -> [WrappedDataKey] {
        let rows = try await database.client.query("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id", logger: Support.logger)
        var keys: [WrappedDataKey] = []
        for try await (id, kekID, wrapped) in rows.decode((UUID, String, Data).self) {
            keys.append(WrappedDataKey(dataKeyID: id, kekID: kekID, wrapped: Array(wrapped)))
        }
        return keys
    }

    /// Seals the test secret with a store on `ring` and stores it in `orders-db`.
    func sealIntoOrders(_ ring: KeyRing, in database: Database) async throws -> SealedSecret {
        let sealed = try await DataKeyStore(database: database, keyRing: ring).seal(secret, context: context, logger: logger)
        try await Self.insertResource("orders-db", ciphertext: sealed.bytes, in: database)
        return sealed
    }

    @Test("a secret sealed for a resources row round-trips through the row")
    func roundTrip() async throws {
        let ring = KeyRing(current: .generate())
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(ring, in: database)
            let stored = try await Self.storedSecret("orders-db", in: database)
            #expect(stored == sealed)
            #expect(!stored.bytes.contains(subsequence: secret))
            // A new store (empty cache) on the same ring opens it from the table.
            let fresh = DataKeyStore(database: database, keyRing: ring)
            #expect(try await fresh.open(stored, context: context, logger: logger) == secret)
            let keys = try await Self.dataKeys(in: database)
            #expect(keys.map(\.dataKeyID) == [stored.dataKeyID])
            #expect(keys.map(\.kekID) == [ring.current.id])
        }
    }

    @Test("a ciphertext opened in another place fails with decryption_failed", arguments: [
        EncryptionContext(table: "resources", row: "billing-db", column: "admin_secret"),
        EncryptionContext(table: "resources", row: "orders-db", column: "owner"),
        EncryptionContext(table: "webhook_endpoints", row: "orders-db", column: "admin_secret"),
    ])
    func wrongContext(_ other: EncryptionContext) async throws {
        let ring = KeyRing(current: .generate())
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(ring, in: database)
            try await Self.insertResource("billing-db", ciphertext: sealed.bytes, in: database)
            let copied = try await Self.storedSecret("billing-db", in: database)
            let store = DataKeyStore(database: database, keyRing: ring)
            let error = await #expect(throws: CryptoError.self) { try await store.open(copied, context: other, logger: logger) }
            #expect(error?.code == CryptoError.decryptionFailedCode)
            #expect(try await store.open(copied, context: context, logger: logger) == secret)
        }
    }

    @Test("a byte flipped at rest fails to open", arguments: [
        (0, "invalid_ciphertext"), (20, "decryption_failed"), (40, "decryption_failed"), (-1, "decryption_failed"),
    ])
    func flippedByte(_ offset: Int, _ code: String) async throws {
        let ring = KeyRing(current: .generate())
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(ring, in: database)
            let index = Int32(offset >= 0 ? offset : sealed.bytes.count - 1)
            try await database.client.query(
                """
                UPDATE resources SET admin_secret = set_byte(admin_secret, \(index), get_byte(admin_secret, \(index)) # 1)
                WHERE id = 'orders-db'
                """, logger: logger)
            let store = DataKeyStore(database: database, keyRing: ring)
            let error = await #expect(throws: CryptoError.self) {
                let stored = try await Self.storedSecret("orders-db", in: database)
                _ = try await store.open(stored, context: context, logger: logger)
            }
            #expect(error?.code == code)
        }
    }

    @Test("a store whose key ring lacks the wrapping KEK fails with unknown_key_encryption_key")
    func unknownKEK() async throws {
        let a = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(KeyRing(current: a), in: database)
            let other = DataKeyStore(database: database, keyRing: KeyRing(current: .generate()))
            let error = await #expect(throws: CryptoError.self) { try await other.open(sealed, context: context, logger: logger) }
            #expect(error?.code == CryptoError.unknownKeyEncryptionKeyCode)
            #expect(error?.message.contains(a.id) == true)
            #expect(error?.message.contains(a.text) == false)
            // Sealing with it fails too: the active data key is wrapped under a KEK it does not hold.
            await #expect(throws: CryptoError.self) { try await other.seal(secret, context: context, logger: logger) }
        }
    }

    @Test("a ciphertext naming a data key that does not exist is refused by the database (bytes 1 to 16 name the key)")
    func unknownDataKeyRefused() async throws {
        let ring = KeyRing(current: .generate())
        try await TestDatabase.withDatabase { database in
            _ = try await sealIntoOrders(ring, in: database)
            let error = await #expect(throws: (any Error).self) {
                try await database.client.query(
                    "UPDATE resources SET admin_secret = set_byte(admin_secret, 5, get_byte(admin_secret, 5) # 1) WHERE id = 'orders-db'",
                    logger: logger)
            }
            #expect((error as? PSQLError)?.serverInfo?[.sqlState] == "23503")
            let orphan = try SealedSecret.seal(secret, with: DataKey.generate(), context: context)
            await #expect(throws: (any Error).self) {
                try await Self.insertResource("billing-db", ciphertext: orphan.bytes, in: database)
            }
        }
    }

    @Test("rotation moves everything to the new KEK; the old KEK is then neither needed nor enough")
    func rotation() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            _ = try await sealIntoOrders(KeyRing(current: a), in: database)
            let rotator = KeyRotation(keys: DataKeyStore(database: database, keyRing: KeyRing(current: b, previous: [a])))
            let first = try await rotator.run(logger: logger)
            #expect(first.rewrapped == 1 && first.reencrypted == 1 && first.destroyed.count == 1)
            let after = try await Self.dataKeys(in: database)
            #expect(after.map(\.kekID) == [b.id])
            #expect(first.newDataKey == after.first?.dataKeyID)

            let stored = try await Self.storedSecret("orders-db", in: database)
            let onlyB = DataKeyStore(database: database, keyRing: KeyRing(current: b))
            #expect(try await onlyB.open(stored, context: context, logger: logger) == secret)
            let onlyA = DataKeyStore(database: database, keyRing: KeyRing(current: a))
            let error = await #expect(throws: CryptoError.self) { try await onlyA.open(stored, context: context, logger: logger) }
            #expect(error?.code == CryptoError.unknownKeyEncryptionKeyCode)

            // Again with the same ring: another data key, nothing to rewrap.
            let second = try await rotator.run(logger: logger)
            #expect(second.rewrapped == 0 && second.reencrypted == 1 && second.destroyed == [first.newDataKey])
        }
    }

    @Test("rotation without the old KEK in the ring fails, names the key, and changes nothing")
    func rotationMissingOldKEK() async throws {
        let a = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            _ = try await sealIntoOrders(KeyRing(current: a), in: database)
            let before = try await Self.dataKeys(in: database)
            let rotator = KeyRotation(keys: DataKeyStore(database: database, keyRing: KeyRing(current: .generate())))
            let error = await #expect(throws: CryptoError.self) { try await rotator.run(logger: logger) }
            #expect(error?.code == CryptoError.unknownKeyEncryptionKeyCode)
            #expect(error?.message.contains(a.id) == true && error?.message.contains("nothing was changed") == true)
            #expect(try await Self.dataKeys(in: database) == before)
        }
    }

    @Test("rotation works through many data keys in batches and destroys those nothing uses")
    func rotationInBatches() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            _ = try await sealIntoOrders(KeyRing(current: a), in: database)
            for _ in 0..<4 {
                let wrapped = try DataKey.generate().wrap(with: a)
                try await database.client.query(
                    """
                    INSERT INTO data_keys (id, kek_id, wrapped, active)
                    VALUES (\(wrapped.dataKeyID), \(wrapped.kekID), \(Data(wrapped.wrapped)), false)
                    """, logger: logger)
            }
            let rotator = KeyRotation(keys: DataKeyStore(database: database, keyRing: KeyRing(current: b, previous: [a])))
            let rotation = try await rotator.run(KeyRotation.Options(batchSize: 2), logger: logger)
            #expect(rotation.rewrapped == 5 && rotation.reencrypted == 1 && rotation.destroyed.count == 5)
            let keys = try await Self.dataKeys(in: database)
            #expect(keys.count == 1 && keys.allSatisfy { $0.kekID == b.id })
            for key in keys { #expect(throws: Never.self) { try key.unwrap(using: KeyRing(current: b)) } }
        }
    }

    @Test("stores that are serving keep opening secrets while rotation runs")
    func servingDuringRotation() async throws {
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(KeyRing(current: a), in: database)
            // A broker configured with the new key and the old one before the rotation, as Docs/operations.md says.
            let serving = DataKeyStore(database: database, keyRing: KeyRing(current: b, previous: [a]))
            #expect(try await serving.open(sealed, context: context, logger: logger) == secret)

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let rotator = DataKeyStore(database: database, keyRing: KeyRing(current: b, previous: [a]))
                    _ = try await KeyRotation(keys: rotator).run(logger: logger)
                }
                for _ in 0..<20 {
                    group.addTask { () async throws -> Void in
                        #expect(try await serving.open(sealed, context: context, logger: logger) == secret)
                    }
                }
                try await group.waitForAll()
            }
            let keys = try await Self.dataKeys(in: database)
            #expect(keys.map(\.kekID) == [b.id])
            let stored = try await Self.storedSecret("orders-db", in: database)
            #expect(stored.dataKeyID == keys.first?.dataKeyID)
            #expect(try await serving.open(stored, context: context, logger: logger) == secret)
            let resealed = try await serving.seal(secret, context: context, logger: logger)
            #expect(resealed.dataKeyID == stored.dataKeyID)
        }
    }

    @Test("stores racing to create the first data key end with exactly one")
    func firstKeyRace() async throws {
        let ring = KeyRing(current: .generate())
        try await TestDatabase.withDatabase { database in
            let sealed = try await withThrowingTaskGroup(of: SealedSecret.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await DataKeyStore(database: database, keyRing: ring).seal(secret, context: context, logger: logger)
                    }
                }
                var all: [SealedSecret] = []
                for try await one in group { all.append(one) }
                return all
            }
            #expect(try await Support.count("SELECT count(*) FROM data_keys", in: database) == 1)
            #expect(try await Support.count("SELECT count(*) FROM data_keys WHERE active", in: database) == 1)
            #expect(Set(sealed.map(\.dataKeyID)).count == 1)
            let reader = DataKeyStore(database: database, keyRing: ring)
            for one in sealed { #expect(try await reader.open(one, context: context, logger: logger) == secret) }
        }
    }

    @Test("no key material is stored in plain form")
    func noPlainKeyMaterial() async throws {
        let a = KeyEncryptionKey.generate()
        try await TestDatabase.withDatabase { database in
            let sealed = try await sealIntoOrders(KeyRing(current: a), in: database)
            let wrapped = try #require(try await Self.dataKeys(in: database).first)
            let dataKey = try wrapped.unwrap(using: KeyRing(current: a))
            // This really is the key that sealed the secret.
            #expect(try sealed.open(with: dataKey, context: context) == secret)
            let raw = dataKey.key.withUnsafeBytes { Array($0) }
            let kekRaw = a.key.withUnsafeBytes { Array($0) }
            #expect(raw.count == 32 && kekRaw.count == 32)
            #expect(!wrapped.wrapped.contains(subsequence: raw))
            #expect(!wrapped.wrapped.contains(subsequence: kekRaw))

            let rows = try await database.client.query(
                "SELECT (SELECT string_agg(d::text, ',') FROM data_keys d) || (SELECT string_agg(r::text, ',') FROM resources r)",
                logger: logger)
            var dump = ""
            for try await text in rows.decode(String.self) { dump = text }
            #expect(dump.contains(a.id))
            for bytes in [raw, kekRaw, secret] {
                #expect(!dump.contains(bytes.map { String(format: "%02x", $0) }.joined()))
            }
            #expect(!dump.contains(a.text) && !dump.contains("correct horse"))
        }
    }
}

extension Array where Element == UInt8 {
    /// Whether `subsequence` occurs contiguously in the array.
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return subsequence.isEmpty }
        return (0...(count - subsequence.count)).contains { self[$0..<($0 + subsequence.count)].elementsEqual(subsequence) }
    }
}
