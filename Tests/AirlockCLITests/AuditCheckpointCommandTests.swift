import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PostgresNIO
import Testing

/// `airlock audit keygen` and `airlock audit verify --checkpoint` as processes, and `airlock dev`'s checkpoint keys.
@Suite("airlock audit keygen and verify --checkpoint", .timeLimit(.minutes(3)))
struct AuditCheckpointCommandTests {
    @Test func keygenWritesAPrivateFileAndPrintsOnlyKeyIDs() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.missing("checkpoint.key")
        let result = try await AirlockBinary.run(["audit", "keygen", "--out", path])
        #expect(result.status == 0, "stderr: \(result.errors)")

        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        let keys = try AuditCheckpointKeys.load(fromFile: path)
        for key in keys.publicKeys.keys { #expect(result.output.contains(key.keyID)) }
        let file = try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
        for name in ["ed25519_private_key", "ml_dsa_65_seed"] {
            let secret = try #require(file[name]?.stringValue)
            #expect(!result.output.contains(secret) && !result.errors.contains(secret))
        }

        // An existing file is never overwritten.
        let again = try await AirlockBinary.run(["audit", "keygen", "--out", path])
        #expect(again.status != 0)
        #expect(again.errors.contains("already exists"))
        #expect(try AuditCheckpointKeys.load(fromFile: path).publicKeys == keys.publicKeys)
    }

    @Test func aWorldReadableKeyFileStopsTheCommandNamingTheSetting() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("checkpoint.key", try AuditCheckpointKeys.generate().fileContents)
        chmod(path, 0o644)
        let result = try await AirlockBinary.run(
            ["audit", "verify", "--database-url", "postgres://u@127.0.0.1:1/x"],
            environment: ["AIRLOCK_AUDIT_CHECKPOINT_KEY_FILE": path])
        #expect(result.status == 1)
        #expect(result.errors.contains("audit.checkpoint_key_file"), "stderr: \(result.errors)")
        #expect(result.errors.contains("chmod 600"))
    }

    /// A database whose chain has ten events and a checkpoint of head 10, that checkpoint as a webhook delivered
    /// it, and the public keys as the well-known route answers them, in files.
    struct Fixture {
        let url: DatabaseURL
        let keys: AuditCheckpointKeys
        let checkpoint: AuditCheckpoint
        let directory: TemporaryDirectory
        let eventFile: String
        let keysFile: String
        let keyFile: String

        init() async throws {
            url = try await TestDatabase.fresh()
            let keys = try AuditCheckpointKeys.generate()
            self.keys = keys
            let logger = TestDatabase.logger
            checkpoint = try await TestDatabase.withExisting(url) { database in
                let log = AuditLog(source: "urn:airlock:test")
                for index in 1...10 {
                    try await database.client.withTransaction(logger: logger) { connection in
                        try await log.append(
                            NewAuditEvent(type: "airlock.test.event", subject: "e\(index)"), on: connection, logger: logger)
                    }
                }
                _ = try await AuditChainer(database: database, logger: logger).chainPending()
                let outcome = try await AuditCheckpointSigner(database: database, keys: keys, auditLog: log)
                    .signHead(logger: logger)
                _ = try await AuditChainer(database: database, logger: logger).chainPending()
                guard case .signed(let checkpoint) = outcome else { throw DevBrokerError("not signed: \(outcome)") }
                return checkpoint
            }
            directory = try TemporaryDirectory()
            // What the receiver got: the event as stored and chained (with its chain attributes, as delivered).
            let delivered = try await AuditReader.events(at: url, type: AuditCheckpoint.eventType)
            var event = try JSONValue.parse(try #require(delivered.first).event).objectValue ?? [:]
            event["sequence"] = .int(11)
            eventFile = try directory.write("checkpoint-event.json", JSONValue.object(event).canonicalString())
            keysFile = try directory.write("keys.json", keys.publicKeys.json.canonicalString())
            keyFile = try directory.writeSecret("checkpoint.key", keys.fileContents)
        }

        func verify(_ extra: [String] = [], keys: Bool = true) async throws -> (status: Int32?, output: String, errors: String) {
            try await AirlockBinary.run(
                ["audit", "verify", "--database-url", url.testURLString, "--checkpoint", eventFile]
                    + (keys ? ["--keys", keysFile] : []) + extra)
        }
    }

    @Test func anIntactChainVerifiesAgainstTheDeliveredCheckpoint() async throws {
        let fixture = try await Fixture()
        let result = try await fixture.verify()
        #expect(result.status == 0, "stdout: \(result.output) stderr: \(result.errors)")
        #expect(result.output.contains("intact and contains checkpoint 10"))

        // Without --keys, the configured key file's public halves are trusted.
        let configured = try await AirlockBinary.run(
            ["audit", "verify", "--database-url", fixture.url.testURLString, "--checkpoint", fixture.eventFile],
            environment: ["AIRLOCK_AUDIT_CHECKPOINT_KEY_FILE": fixture.keyFile])
        #expect(configured.status == 0, "stdout: \(configured.output) stderr: \(configured.errors)")

        // The data.checkpoint object alone is accepted too.
        let object = try fixture.directory.write("checkpoint.json", fixture.checkpoint.json.canonicalString())
        let alone = try await AirlockBinary.run(
            ["audit", "verify", "--json", "--database-url", fixture.url.testURLString, "--checkpoint", object,
             "--keys", fixture.keysFile])
        #expect(alone.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(alone.output.utf8)) as? [String: Any])
        #expect(report["intact"] as? Bool == true)
        #expect(report["checkpoint_sequence"] as? Int == 10)
    }

    @Test func truncationBelowTheCheckpointIsBroken() async throws {
        let fixture = try await Fixture()
        try await TestDatabase.execute("DELETE FROM audit_events WHERE sequence >= 8", on: fixture.url)
        try await TestDatabase.execute("DELETE FROM audit_checkpoints", on: fixture.url)
        // The chain alone still verifies: only the checkpoint shows the cut.
        let plain = try await AirlockBinary.run(["audit", "verify", "--database-url", fixture.url.testURLString])
        #expect(plain.status == 0)

        let result = try await fixture.verify()
        #expect(result.status == 1)
        #expect(result.output.contains("BROKEN"))
        #expect(result.output.contains("truncated"), "\(result.output)")
        let json = try await fixture.verify(["--json"])
        #expect(json.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(report["intact"] as? Bool == false)
        #expect(report["checkpoint_valid"] as? Bool == true)
        #expect(report["last_sequence"] as? Int == 7)
    }

    @Test func anAlteredRowIsBroken() async throws {
        let fixture = try await Fixture()
        try await TestDatabase.execute(
            "UPDATE audit_events SET event = replace(event, '\"e4\"', '\"e4-forged\"') WHERE sequence = 4", on: fixture.url)
        let result = try await fixture.verify()
        #expect(result.status == 1)
        #expect(result.output.contains("BROKEN"), "\(result.output)")
        #expect(result.output.contains("sequence 4"))
    }

    @Test func aForgedCheckpointIsRefused() async throws {
        let fixture = try await Fixture()
        // The receiver's copy, edited to claim a shorter chain (what a forger who truncated would want).
        var event = try JSONValue.parse(String(contentsOfFile: fixture.eventFile, encoding: .utf8)).objectValue ?? [:]
        var data = event["data"]?.objectValue ?? [:]
        var checkpoint = data["checkpoint"]?.objectValue ?? [:]
        checkpoint["sequence"] = 5
        data["checkpoint"] = .object(checkpoint)
        event["data"] = .object(data)
        let forged = try fixture.directory.write("forged.json", JSONValue.object(event).canonicalString())
        let result = try await AirlockBinary.run(
            ["audit", "verify", "--database-url", fixture.url.testURLString, "--checkpoint", forged,
             "--keys", fixture.keysFile])
        #expect(result.status == 1)
        #expect(result.output.contains("REFUSED"), "\(result.output)")
        #expect(result.output.contains("does not verify"))

        // Signed by keys nobody trusts.
        let other = try AuditCheckpointKeys.generate()
        let foreign = try AuditCheckpoint.sign(
            sequence: 5, hash: fixture.checkpoint.hash, time: Date(), with: other)
        let foreignFile = try fixture.directory.write("foreign.json", foreign.json.canonicalString())
        let refused = try await AirlockBinary.run(
            ["audit", "verify", "--json", "--database-url", fixture.url.testURLString, "--checkpoint", foreignFile,
             "--keys", fixture.keysFile])
        #expect(refused.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(refused.output.utf8)) as? [String: Any])
        #expect(report["checkpoint_valid"] as? Bool == false)
        #expect(report["code"] as? String == AuditCheckpointError.unknownKeyCode)
    }

    @Test func devPublishesItsCheckpointKeys() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let url = try #require(URL(string: "\(dev.address)/.well-known/airlock-audit-keys"))
        let (data, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let keys = try AuditCheckpointKeySet(json: try JSONValue.parse(data))
        #expect(keys.keys.map(\.algorithm) == [.ed25519, .mlDSA65])
    }
}
