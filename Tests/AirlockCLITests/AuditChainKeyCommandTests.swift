import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// `airlock audit keygen --chain` and `airlock audit verify --chain-key/--keyed-from` as processes (issue 14, item 6).
@Suite("airlock audit keygen --chain and verify of a keyed chain", .timeLimit(.minutes(3)))
struct AuditChainKeyCommandTests {
    @Test func keygenWritesAPrivateChainKeyAndPrintsOnlyItsID() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.missing("chain.key")
        let result = try await AirlockBinary.run(["audit", "keygen", "--chain", "--out", path])
        #expect(result.status == 0, "stderr: \(result.errors)")
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        let key = try AuditChainKey.load(fromFile: path)
        #expect(result.output.contains(key.keyID))
        let secret = try #require(try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))["key"]?.stringValue)
        #expect(!result.output.contains(secret) && !result.errors.contains(secret))
        let again = try await AirlockBinary.run(["audit", "keygen", "--chain", "--out", path])
        #expect(again.status != 0)
        #expect(try AuditChainKey.load(fromFile: path).keyID == key.keyID)
    }

    @Test func aKeyedChainVerifiesWithItsKeyOnly() async throws {
        let url = try await TestDatabase.fresh()
        let key = AuditChainKey.generate()
        let logger = TestDatabase.logger
        try await TestDatabase.withExisting(url) { database in
            let log = AuditLog(source: "urn:airlock:test")
            for index in 1...5 {
                try await database.client.withTransaction(logger: logger) { connection in
                    try await log.append(
                        NewAuditEvent(type: "airlock.test.event", subject: "e\(index)"), on: connection, logger: logger)
                }
            }
            _ = try await AuditChainer(database: database, chainKey: key, logger: logger).chainPending()
        }
        let directory = try TemporaryDirectory()
        let keyFile = try directory.writeSecret("chain.key", key.fileContents)
        let base = ["audit", "verify", "--database-url", url.testURLString]

        let withKey = try await AirlockBinary.run(base + ["--chain-key", keyFile])
        #expect(withKey.status == 0, "stdout: \(withKey.output) stderr: \(withKey.errors)")
        #expect(withKey.output.contains("intact: 5 events"))
        let configured = try await AirlockBinary.run(base, environment: ["AIRLOCK_AUDIT_CHAIN_KEY_FILE": keyFile])
        #expect(configured.status == 0, "stdout: \(configured.output) stderr: \(configured.errors)")

        let without = try await AirlockBinary.run(base)
        #expect(without.status == 1)
        #expect(without.output.contains("keyed (chain key \(key.keyID))"), "\(without.output)")
        let secret = try #require(try JSONValue.parse(key.fileContents)["key"]?.stringValue)
        for output in [withKey, configured, without] {
            #expect(!output.output.contains(secret) && !output.errors.contains(secret))
        }

        let other = try directory.writeSecret("other.key", AuditChainKey.generate().fileContents)
        let wrong = try await AirlockBinary.run(base + ["--chain-key", other])
        #expect(wrong.status == 1)
        #expect(wrong.output.contains("which was not given"))

        let keyedLater = try await AirlockBinary.run(base + ["--keyed-from", "3"])
        #expect(keyedLater.status != 0 && keyedLater.errors.contains("--keyed-from needs a chain key"), "\(keyedLater.errors)")
    }

    @Test func aWorldReadableChainKeyStopsTheCommandNamingTheSetting() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("chain.key", AuditChainKey.generate().fileContents)
        chmod(path, 0o644)
        let result = try await AirlockBinary.run(
            ["audit", "verify", "--database-url", "postgres://u@127.0.0.1:1/x"],
            environment: ["AIRLOCK_AUDIT_CHAIN_KEY_FILE": path])
        #expect(result.status == 1)
        #expect(result.errors.contains("audit.chain_key_file"), "stderr: \(result.errors)")
        #expect(result.errors.contains("chmod 600"))
    }
}
