import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("Audit chain on PostgreSQL", .timeLimit(.minutes(2)))
struct AuditChainTests {
    let logger = Support.logger

    @Test("committed events are chained 1…N in insertion order and verify intact")
    func chainsAndVerifies() async throws {
        try await TestDatabase.withDatabase { database in
            for index in 1...5 { try await Support.appendCommitted("e\(index)", in: database) }
            // Two events of one transaction.
            try await database.client.withTransaction(logger: logger) { connection in
                for subject in ["e6", "e7"] {
                    try await Support.auditLog.append(
                        NewAuditEvent(type: "airlock.test.event", subject: subject), on: connection, logger: logger)
                }
            }
            #expect(try await AuditChainer(database: database, logger: logger).chainPending() == 7)

            let rows = try await AuditReader.events(in: database, order: .chained)
            #expect(rows.map(\.sequence) == (1...7).map { Int64($0) })
            #expect(rows.map(\.subject) == (1...7).map { "e\($0)" })
            #expect(rows.first?.prevhash == AuditChain.genesisHash)
            #expect(Support.linksAreValid(rows))

            let verification = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(verification.isIntact)
            #expect(verification.checked == 7)
            #expect(verification.lastSequence == 7)
            #expect(verification.lastHash == rows.last?.hash)
            #expect(verification.unchained == 0)
            #expect(try await AuditChainer(database: database, logger: logger).chainPending() == 0)
        }
    }

    @Test("an event in a rolled-back transaction never appears and leaves no gap")
    func rolledBack() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.appendCommitted("kept-1", in: database)
            let rolledBack = try await #require(throws: PostgresTransactionError.self) {
                try await database.client.withTransaction(logger: logger) { connection in
                    try await Support.auditLog.append(
                        NewAuditEvent(type: "airlock.test.event", subject: "lost"), on: connection, logger: logger)
                    throw TestFailure("the state change failed")
                }
            }
            #expect(rolledBack.closureError is TestFailure)
            try await Support.appendCommitted("kept-2", in: database)
            #expect(try await Support.drain(database) == 2)

            let rows = try await AuditReader.events(in: database, order: .chained)
            #expect(rows.map(\.subject) == ["kept-1", "kept-2"])
            #expect(rows.map(\.sequence) == [1, 2])
            let verification = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(verification.isIntact && verification.checked == 2)
        }
    }

    @Test("the stored event is canonical CloudEvents JSON and the hash covers exactly those bytes")
    func canonicalEvent() async throws {
        let time = Date(timeIntervalSince1970: 1_795_000_000.125)
        let log = AuditLog(source: "/airlock/replica-1", clock: TestClock(time))
        try await TestDatabase.withDatabase { database in
            let event = NewAuditEvent(
                type: "airlock.access.requested", subject: "req-42", severity: .high, channels: ["pager", "chat"],
                data: ["zeta": .int(1), "alpha": .string("naïve ✓ \"quoted\""), "nested": ["b": .bool(true), "a": .null]])
            let id = try await database.client.withTransaction(logger: logger) { connection in
                try await log.append(event, on: connection, logger: logger)
            }
            _ = try await Support.drain(database)
            let row = try #require(try await AuditReader.events(in: database, order: .chained).first)
            #expect(row.id == id)

            let parsed = try JSONValue.parse(Data(row.event.utf8))
            #expect(parsed.canonicalString() == row.event)
            #expect(row.event.hasPrefix(#"{"data":{"alpha":"naïve ✓ \"quoted\"","channels":["chat","pager"]"#))
            #expect(parsed["specversion"]?.stringValue == "1.0")
            #expect(parsed["id"]?.stringValue == id.uuidString.lowercased())
            #expect(parsed["source"]?.stringValue == "/airlock/replica-1")
            #expect(parsed["type"]?.stringValue == "airlock.access.requested")
            #expect(parsed["time"]?.stringValue == AuditTime.format(time))
            #expect(parsed["time"]?.stringValue?.hasSuffix(".125Z") == true)
            #expect(parsed["subject"]?.stringValue == "req-42")
            #expect(parsed["data"]?["severity"]?.stringValue == "high")
            #expect(parsed["data"]?["channels"] == ["chat", "pager"])
            #expect(parsed["data"]?["zeta"]?.intValue == 1)
            #expect(parsed["data"]?["nested"] == ["a": .null, "b": .bool(true)])
            #expect(parsed["sequence"] == nil && parsed["hash"] == nil && parsed["prevhash"] == nil)
            #expect(row.hash == AuditChain.hash(prevhash: AuditChain.genesisHash, event: row.event))

            // The indexed columns agree with the bytes.
            for (type, subject, severity) in try await AuditReader.events(in: database).filter({ $0.id == id })
                .map({ ($0.type, $0.subject, $0.severity) }) {
                #expect(type == "airlock.access.requested" && subject == "req-42" && severity == "high")
            }
        }
    }

    /// A way to tamper with a chain of ten events, and the sequence where verification must first fail.
    enum Tamper: String, CaseIterable, Sendable {
        case editData, deleteEvent, swapEvents, editHashOnly, rewriteEventAndHash, editTypeColumn, truncateMiddle

        /// The SQL that tampers (run as the table's owner).
        var sql: [String] {
            switch self {
            case .editData:
                ["UPDATE audit_events SET event = replace(event, 'event-5', 'event-X') WHERE sequence = 5"]
            case .deleteEvent:
                ["DELETE FROM audit_events WHERE sequence = 4"]
            case .swapEvents:
                ["UPDATE audit_events SET sequence = 1000 WHERE sequence = 3",
                 "UPDATE audit_events SET sequence = 3 WHERE sequence = 7",
                 "UPDATE audit_events SET sequence = 7 WHERE sequence = 1000"]
            case .editHashOnly:
                ["UPDATE audit_events SET hash = repeat('a', 64) WHERE sequence = 6"]
            case .rewriteEventAndHash:
                // A careful forger rewrites event 5 and recomputes its hash; event 6 still links to the old one.
                ["UPDATE audit_events SET event = replace(event, 'event-5', 'event-X') WHERE sequence = 5",
                 """
                 UPDATE audit_events SET hash = encode(sha256(convert_to(prevhash || event, 'UTF8')), 'hex')
                 WHERE sequence = 5
                 """]
            case .editTypeColumn:
                ["UPDATE audit_events SET type = 'airlock.forged' WHERE sequence = 8"]
            case .truncateMiddle:
                ["DELETE FROM audit_events WHERE sequence BETWEEN 2 AND 9"]
            }
        }

        /// Where the verifier must report the first problem.
        ///
        /// Editing only the hash of event 6 is caught at 6 itself: its stored hash no longer matches
        /// SHA-256(prevhash || event), which is checked before the walk moves on to 7.
        var firstBadSequence: Int64 {
            switch self {
            case .editData: 5
            case .deleteEvent: 4
            case .swapEvents: 3
            case .editHashOnly: 6
            case .rewriteEventAndHash: 6
            case .editTypeColumn: 8
            case .truncateMiddle: 2
            }
        }
    }

    @Test("tampering is found at the right sequence", arguments: Tamper.allCases)
    func tampering(_ tamper: Tamper) async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 10, in: database)
            let before = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(before.isIntact && before.checked == 10)

            for statement in tamper.sql { try await Support.execute(statement, in: database) }

            let after = try await ChainVerifier(database: database).verify(logger: logger)
            let problem = try #require(after.problem)
            #expect(problem.sequence == tamper.firstBadSequence)
            #expect(after.checked == tamper.firstBadSequence - 1)
            #expect(after.lastSequence == tamper.firstBadSequence - 1)
            #expect(!problem.reason.isEmpty)
            // A small page size walks the same chain in pieces and finds the same problem.
            let paged = try await ChainVerifier(database: database, pageSize: 3).verify(logger: logger)
            #expect(paged.problem == problem)
        }
    }

    @Test("an uncommitted event does not hold back events committed after it")
    func uncommittedDoesNotBlock() async throws {
        try await TestDatabase.withDatabase { database in
            let chainer = AuditChainer(database: database, logger: logger)
            let slowID = try await database.client.withTransaction(logger: logger) { connection in
                let id = try await Support.auditLog.append(
                    NewAuditEvent(type: "airlock.test.event", subject: "slow"), on: connection, logger: logger)
                // While this transaction is open, another request commits its event and the chainer runs.
                try await Support.appendCommitted("fast", in: database)
                #expect(try await chainer.chainPending() == 1)
                let rows = try await AuditReader.events(in: database, order: .chained)
                #expect(rows.map(\.subject) == ["fast"])
                #expect(rows.first?.sequence == 1)
                return id
            }
            #expect(try await chainer.chainPending() == 1)
            let rows = try await AuditReader.events(in: database, order: .chained)
            #expect(rows.map(\.subject) == ["fast", "slow"])
            #expect(rows.map(\.sequence) == [1, 2])
            #expect(rows.last?.id == slowID)
            #expect(Support.linksAreValid(rows))
            #expect(try await ChainVerifier(database: database).verify(logger: logger).isIntact)
        }
    }

    @Test("the verifier counts events committed but not yet chained")
    func unchainedCount() async throws {
        try await TestDatabase.withDatabase { database in
            try await Support.chain(of: 3, in: database)
            try await Support.appendCommitted("later-1", in: database)
            try await Support.appendCommitted("later-2", in: database)
            let verification = try await ChainVerifier(database: database).verify(logger: logger)
            #expect(verification.isIntact)
            #expect(verification.checked == 3)
            #expect(verification.unchained == 2)
        }
    }
}
