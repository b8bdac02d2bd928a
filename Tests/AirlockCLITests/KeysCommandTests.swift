import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// `airlock keys rotate` and `airlock keys status` as an operator runs them.
struct KeysCommandTests {
    @Test("keys status shows what each master key wraps and each data key seals; rotate moves it all, printing no secret",
          .timeLimit(.minutes(2)))
    func rotateAndStatus() async throws {
        let url = try await TestDatabase.fresh()
        let a = KeyEncryptionKey.generate(), b = KeyEncryptionKey.generate()
        let password = "orders-admin-password-\(UUID().uuidString)"
        let oldID = try await TestDatabase.withExisting(url) { database in
            let store = DataKeyStore(database: database, keyRing: KeyRing(current: a))
            let sealed = try await store.seal(
                Array(password.utf8), context: KnownResources.context("orders-db"), logger: TestDatabase.logger)
            try await database.client.query(
                "INSERT INTO resources (id, kind, env, admin_secret) VALUES ('orders-db', 'postgres', 'prod', \(sealed.data))",
                logger: TestDatabase.logger)
            return sealed.dataKeyID.uuidString.lowercased()
        }
        let base = ["AIRLOCK_DATABASE_URL": url.testURLString]

        let before = try await AirlockBinary.run(["keys", "status"], environment: base.merging(["AIRLOCK_MASTER_KEY": a.text]) { $1 })
        #expect(before.status == 0, "stderr: \(before.errors)")
        #expect(before.output.contains("\(a.id)  wraps 1 data key  (current)"), "\(before.output)")
        #expect(before.output.contains("\(oldID)  active   wrapped by \(a.id)  seals 1 secret (resources.admin_secret 1)"))
        #expect(before.output.contains("rotation: complete"))

        let rotateEnvironment = base.merging(["AIRLOCK_MASTER_KEY": b.text, "AIRLOCK_PREVIOUS_MASTER_KEYS": a.text]) { $1 }
        let rotated = try await AirlockBinary.run(["keys", "rotate"], environment: rotateEnvironment)
        #expect(rotated.status == 0, "stderr: \(rotated.errors)")
        #expect(rotated.output.contains("1 secret(s) re-encrypted, 1 old data key(s) destroyed"), "\(rotated.output)")

        let after = try await AirlockBinary.run(["keys", "status"], environment: rotateEnvironment)
        #expect(after.status == 0)
        #expect(after.output.contains("\(b.id)  wraps 1 data key  (current)"), "\(after.output)")
        #expect(after.output.contains("\(a.id)  wraps 0 data keys  (previous)"))
        #expect(!after.output.contains(oldID))
        #expect(after.output.contains("rotation: complete"))
        // Without a master key it still answers, from the database alone.
        let bare = try await AirlockBinary.run(["keys", "status"], environment: base)
        #expect(bare.status == 0 && bare.output.contains("\(b.id)  wraps 1 data key"), "\(bare.errors)")

        for result in [before, rotated, after, bare] {
            for secret in [password, a.text, b.text] {
                #expect(!result.output.contains(secret) && !result.errors.contains(secret))
            }
        }
    }
}
