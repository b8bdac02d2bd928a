import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

/// The broker's audit checkpoints: the well-known route publishes the public keys (and nothing else, without a
/// token), the broker signs on its checkpoint clock and at shutdown, and no private key reaches a response, a log
/// line or the audit tables.
@Suite("Audit checkpoints in the broker", .timeLimit(.minutes(2)))
struct AuditCheckpointRouteTests {
    @Test func theBrokerPublishesItsPublicKeysAndSignsOnItsClockAndAtShutdown() async throws {
        let url = try await TestDatabase.fresh()
        let keys = try AuditCheckpointKeys.generate()
        let logs = CapturedLogs()
        let clock = ManualClock()
        var config = try ServerSupport.configuration(url: url)
        config.settings.auditCheckpointKeys = keys
        config.settings.auditCheckpointInterval = .seconds(60)
        config.checkpointClock = clock
        config.logger = logs.logger()
        let bodies = CapturedLogs()  // a thread-safe list of strings
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // No token: the keys are public.
            let response = try await client.execute(uri: "/.well-known/airlock-audit-keys", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let body = String(buffer: response.body)
            bodies.append(body)
            let published = try AuditCheckpointKeySet(json: try JSONValue.parse(body))
            #expect(published == keys.publicKeys)
            #expect(try JSONValue.parse(body).objectValue?.keys.sorted() == ["keys"])
            for entry in try JSONValue.parse(body)["keys"]?.arrayValue ?? [] {
                #expect(entry.objectValue?.keys.sorted() == ["alg", "key_id", "public_key"])
            }

            // The broker's start wrote audit events (the policy set and resources it recorded); once they are
            // chained, one interval of the checkpoint clock signs them.
            try await Self.waitUntil { try await Self.chainHead(url) > 0 }
            try await clock.waitForSleeps(1)
            clock.advance(by: .seconds(60))
            try await clock.waitForSleeps(2)
            let first = try #require(try await Self.latest(url))
            try first.verify(trusting: published)
        }
        // Graceful shutdown signed once more: the first checkpoint's event moved nothing, so only if something
        // else was chained since; either way the newest checkpoint verifies and the chain holds it.
        let last = try #require(try await Self.latest(url))
        try last.verify(trusting: keys.publicKeys)
        try await TestDatabase.withExisting(url) { database in
            let result = try await CheckpointVerifier(database: database)
                .verify(last, trusting: keys.publicKeys, logger: TestDatabase.logger)
            #expect(result.isIntact, "\(result.problem ?? "")")
        }

        // The private keys appear nowhere: not in the answer, the log or the audit tables.
        let file = try JSONValue.parse(keys.fileContents)
        let secrets = ["ed25519_private_key", "ml_dsa_65_seed"].compactMap { file[$0]?.stringValue }
        #expect(secrets.count == 2)
        let stored = try await TestDatabase.withExisting(url) { database in
            var texts: [String] = []
            let rows = try await database.client.query(
                """
                SELECT event FROM audit_events
                UNION ALL SELECT concat_ws(' ', hash, time, ed25519_key_id, encode(ed25519_signature, 'base64'),
                                           mldsa65_key_id, encode(mldsa65_signature, 'base64')) FROM audit_checkpoints
                """, logger: TestDatabase.logger)
            for try await text in rows.decode(String.self) { texts.append(text) }
            return texts
        }
        #expect(logs.text.contains("audit checkpoint signed"))
        for secret in secrets {
            let hex = Digest.hex(Data(base64Encoded: secret) ?? Data())
            for haystack in [logs.text, bodies.text, stored.joined(separator: "\n")] {
                #expect(!haystack.contains(secret))
                #expect(!haystack.contains(hex))
            }
        }
    }

    @Test func withoutAKeyTheRouteAnswersNoKeysAndTheStartWarns() async throws {
        let url = try await TestDatabase.fresh()
        let logs = CapturedLogs()
        var config = try ServerSupport.configuration(url: url)
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let response = try await client.execute(uri: "/.well-known/airlock-audit-keys", method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"{"keys":[]}"#)
            let wrong = try await client.execute(uri: "/.well-known/airlock-audit-keys", method: .post)
            #expect(wrong.status == .methodNotAllowed)
        }
        #expect(logs.text.contains("no audit checkpoint key"))
        #expect(try await Self.latest(url) == nil)
    }

    static func latest(_ url: DatabaseURL) async throws -> AuditCheckpoint? {
        try await TestDatabase.withExisting(url) { database in
            try await AuditCheckpointSigner.latest(in: database, logger: TestDatabase.logger)
        }
    }

    @Test func aBrokerWithAChainKeyChainsKeyedAndLogsTheFirstKeyedSequenceNeverTheKey() async throws {
        let url = try await TestDatabase.fresh()
        let key = AuditChainKey.generate()
        let logs = CapturedLogs()
        var config = try ServerSupport.configuration(url: url)
        config.settings.auditChainKey = key
        config.settings.logLevel = .trace
        config.logger = logs.logger()
        config.logger.logLevel = .trace
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            try await Self.waitUntil { try await Self.chainHead(url) > 0 }
        }
        try await TestDatabase.withExisting(url) { database in
            let keyed = try await ChainVerifier(database: database, chainKeys: [key]).verify(logger: TestDatabase.logger)
            #expect(keyed.isIntact && keyed.checked > 0, "\(keyed)")
            #expect(try await ChainVerifier(database: database).verify(logger: TestDatabase.logger).problem?.sequence == 1)
        }
        #expect(logs.text.contains("audit chain keyed from sequence 1 (chain key \(key.keyID))"), "\(logs.text)")
        let secret = try #require(try JSONValue.parse(key.fileContents)["key"]?.stringValue)
        #expect(!logs.text.contains(secret))
    }

    static func chainHead(_ url: DatabaseURL) async throws -> Int64 {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT coalesce(max(sequence), 0) FROM audit_events", logger: TestDatabase.logger)
            var head: Int64 = 0
            for try await value in rows.decode(Int64.self) { head = value }
            return head
        }
    }

    static func waitUntil(_ condition: () async throws -> Bool) async throws {
        while !(try await condition()) { try await Task.sleep(for: .milliseconds(50)) }
    }
}
