import AirlockCore
import AirlockStore
import Testing

@Test func zzDebug() async throws {
    try await Support.withDatabase { database in
        do {
            _ = try await DataKeyStore(database: database, keyRing: KeyRing(current: .generate()))
                .seal([1, 2, 3], context: EncryptionContext(table: "a", row: "b", column: "c"), logger: Support.logger)
        } catch {
            print("DEBUG:", describeDatabaseError(error), String(reflecting: error))
        }
        do {
            try await DataKeyStoreTests.insertResource("orders-db", ciphertext: [1, 2, 3], in: database)
        } catch {
            print("DEBUG2:", describeDatabaseError(error), String(reflecting: error))
        }
    }
}
