import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 14, item 6: a keyed audit chain (`audit.chain_key_file`), which someone who can write the database but does
/// not hold the key cannot recompute.
@Suite("Keyed audit chain", .timeLimit(.minutes(2)))
struct KeyedAuditChainTests {
    let logger = Support.logger

    /// Appends `count` events (subjects `prefix1`…) and chains them with `key`.
    func append(_ count: Int, _ prefix: String, key: AuditChainKey?, in database: Database) async throws {
        for index in 1...count {
            try await Support.appendCommitted("\(prefix)\(index)", in: database, data: ["note": .string("\(prefix)-\(index)")])
        }
        let chained = try await AuditChainer(database: database, chainKey: key, logger: logger).chainPending()
        #expect(chained == count)
    }

    /// What a database writer without the key can do: rewrite the subject of event `sequence`, then recompute every
    /// hash from there with plain SHA-256 (or under `key`) and mark the rewritten events as `keyID`.
    func rewrite(
        from sequence: Int64, in database: Database, key: AuditChainKey? = nil, keyID: String? = nil
    ) async throws {
        let rows = try await AuditReader.events(in: database, order: .chained)
        var previous = rows.first { $0.sequence == sequence }?.prevhash ?? AuditChain.genesisHash
        for row in rows where (row.sequence ?? 0) >= sequence {
            var event = row.event
            if row.sequence == sequence {
                let parsed = try #require(try JSONValue.parse(Data(event.utf8)).objectValue)
                var edited = parsed
                edited["subject"] = .string("forged")
                event = JSONValue.object(edited).canonicalString()
            }
            let hash = AuditChain.hash(prevhash: previous, event: event, key: key)
            try await database.client.query("""
                UPDATE audit_events SET event = \(event), subject = \(row.sequence == sequence ? "forged" : row.subject),
                    prevhash = \(previous), hash = \(hash), chain_key_id = \(keyID)
                WHERE sequence = \(row.sequence)
                """, logger: logger)
            previous = hash
        }
    }

    @Test("a key file round-trips; printing it or a bad file shows no key bytes")
    func keyFile() throws {
        let key = AuditChainKey.generate()
        let again = try AuditChainKey(fileContents: key.fileContents)
        #expect(again.keyID == key.keyID)
        #expect(AuditChain.hash(prevhash: "p", event: "e", key: again) == AuditChain.hash(prevhash: "p", event: "e", key: key))
        #expect(AuditChainKey.generate().keyID != key.keyID)
        let secret = try #require(try JSONValue.parse(Data(key.fileContents.utf8))["key"]?.stringValue)
        for shown in [String(describing: key), String(reflecting: key), "\(key)", { var s = ""; dump(key, to: &s); return s }()] {
            #expect(!shown.contains(secret) && shown.contains(key.keyID))
        }
        let short = #"{"format":"airlock-audit-chain-key/v1","key":"c2VjcmV0LWJ5dGVz"}"#
        let refused = #expect(throws: AuditCheckpointError.self) { try AuditChainKey(fileContents: short) }
        #expect(refused?.code == AuditCheckpointError.invalidChainKeyCode)
        #expect(refused.map { !$0.message.contains("c2VjcmV0LWJ5dGVz") } == true)
        #expect(throws: AuditCheckpointError.self) {
            try AuditChainKey(fileContents: #"{"format":"airlock-audit-chain-key/v1","key":"\#(secret)","extra":1}"#)
        }
    }

    @Test("a keyed chain verifies only with its key, and its hashes are not SHA-256")
    func keyedChainVerifies() async throws {
        try await TestDatabase.withDatabase { database in
            let key = AuditChainKey.generate()
            try await append(4, "e", key: key, in: database)
            let rows = try await AuditReader.events(in: database, order: .chained)
            #expect(!Support.linksAreValid(rows), "keyed hashes must not be the plain SHA-256 chain")
            var keyIDs: [String?] = []
            let rows2 = try await database.client.query("SELECT DISTINCT chain_key_id FROM audit_events", logger: logger)
            for try await keyID in rows2.decode(String?.self) { keyIDs.append(keyID) }
            #expect(keyIDs == [key.keyID])

            let keyed = try await ChainVerifier(database: database, chainKeys: [key]).verify(logger: logger)
            #expect(keyed.isIntact && keyed.checked == 4)
            let without = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(without.problem?.sequence == 1)
            #expect(without.problem?.reason.contains("keyed (chain key \(key.keyID))") == true)
            let wrong = try await ChainVerifier(database: database, chainKeys: [AuditChainKey.generate()]).verify(logger: logger)
            #expect(wrong.problem?.sequence == 1)
        }
    }

    @Test("a writer without the key who rewrites an event and recomputes the chain is found; unkeyed, it is not")
    func rewriteIsFound() async throws {
        // Unkeyed, the same rewrite verifies: this is what the key adds.
        try await TestDatabase.withDatabase { database in
            try await append(5, "e", key: nil, in: database)
            try await rewrite(from: 3, in: database)
            #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
        }
        try await TestDatabase.withDatabase { database in
            let key = AuditChainKey.generate()
            try await append(5, "e", key: key, in: database)

            // Recomputed with SHA-256 from event 3 on, marked plain: plain after keyed.
            try await rewrite(from: 3, in: database)
            let plain = try await ChainVerifier(database: database, chainKeys: [key]).verify(logger: logger)
            #expect(plain.problem?.sequence == 3)
            #expect(plain.problem?.reason.contains("plain SHA-256 hash after keyed event 1") == true)
            // Even a verifier without the key sees that a keyed chain went plain.
            #expect(try await ChainVerifier(database: database).verify(logger: logger).problem?.sequence == 1)

            // Recomputed under a key of the writer's own, marked with the real key's id: the hash fails.
            try await rewrite(from: 3, in: database, key: AuditChainKey.generate(), keyID: key.keyID)
            let forged = try await ChainVerifier(database: database, chainKeys: [key]).verify(logger: logger)
            #expect(forged.problem?.sequence == 3)
            #expect(forged.problem?.reason.contains("altered") == true)
        }
    }

    @Test("the whole chain rewritten as plain SHA-256 is found when the key is given")
    func strippedChain() async throws {
        try await TestDatabase.withDatabase { database in
            let key = AuditChainKey.generate()
            try await append(3, "e", key: key, in: database)
            try await rewrite(from: 1, in: database)
            #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
            let keyed = try await ChainVerifier(database: database, chainKeys: [key]).verify(logger: logger)
            #expect(keyed.problem?.sequence == 1)
            #expect(keyed.problem?.reason.contains("keyed from sequence 1") == true)
        }
    }

    @Test("a chain keyed later verifies from the logged sequence; keys rotate; a broker without the key chains nothing")
    func keyedLaterRotatedAndNeverWeakened() async throws {
        try await TestDatabase.withDatabase { database in
            let first = AuditChainKey.generate(), second = AuditChainKey.generate()
            try await append(2, "plain", key: nil, in: database)
            try await append(2, "first", key: first, in: database)
            try await append(2, "second", key: second, in: database)

            let both = try await ChainVerifier(database: database, chainKeys: [first, second], keyedFrom: 3).verify(logger: logger)
            #expect(both.isIntact && both.checked == 6)
            let fromStart = try await ChainVerifier(database: database, chainKeys: [first, second]).verify(logger: logger)
            #expect(fromStart.problem?.sequence == 1)
            let oneKey = try await ChainVerifier(database: database, chainKeys: [second], keyedFrom: 3).verify(logger: logger)
            #expect(oneKey.problem?.sequence == 3)
            #expect(oneKey.problem?.reason.contains("chain key \(first.keyID), which was not given") == true)

            // A broker with no key leaves the new event unchained rather than hash it plainly.
            try await Support.appendCommitted("late", in: database)
            let refusal = await #expect(throws: AuditChainError.self) {
                try await AuditChainer(database: database, logger: logger).chainPending()
            }
            #expect(refusal?.code == AuditChainError.keyedChainCode)
            #expect(refusal?.message.contains(second.keyID) == true)
            let unchained = try await ChainVerifier(database: database, chainKeys: [first, second], keyedFrom: 3)
                .verify(logger: logger)
            #expect(unchained.isIntact && unchained.unchained == 1)
            #expect(try await AuditChainer(database: database, chainKey: second, logger: logger).chainPending() == 1)
        }
    }
}
