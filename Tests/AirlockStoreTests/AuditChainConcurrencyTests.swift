import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("Audit chain under concurrency", .timeLimit(.minutes(2)))
struct AuditChainConcurrencyTests {
    let logger = Support.logger
    static let writers = 8
    static let eventsPerWriter = 50

    /// Writer `writer` appends its events, each in its own transaction; every third one holds its
    /// transaction open a few milliseconds before committing. Returns the ids in commit order.
    static func write(_ writer: Int, into database: Database) async throws -> [UUID] {
        var ids: [UUID] = []
        for index in 0..<eventsPerWriter {
            let id = try await database.client.withTransaction(logger: Support.logger) { connection in
                let id = try await Support.auditLog.append(
                    NewAuditEvent(type: "airlock.test.event", subject: "w\(writer)-\(index)"),
                    on: connection, logger: Support.logger)
                if index % 3 == writer % 3 {
                    try await connection.query("SELECT pg_sleep(0.004)", logger: Support.logger)
                }
                return id
            }
            ids.append(id)
        }
        return ids
    }

    /// Runs the eight writers at once and returns each writer's ids in commit order.
    static func runWriters(_ database: Database) async throws -> [[UUID]] {
        try await withThrowingTaskGroup(of: [UUID].self) { group in
            for writer in 0..<writers {
                group.addTask { try await write(writer, into: database) }
            }
            var all: [[UUID]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
    }

    /// Checks that every committed event is chained exactly once, gap-free, in each writer's commit order.
    func checkChain(_ database: Database, writerIDs: [[UUID]]) async throws {
        let total = Self.writers * Self.eventsPerWriter
        let rows = try await AuditReader.events(in: database, order: .chained)
        #expect(rows.count == total)
        #expect(rows.allSatisfy { $0.sequence != nil })
        #expect(rows.map(\.sequence) == (1...total).map { Int64($0) })
        #expect(Set(rows.map(\.id)) == Set(writerIDs.flatMap { $0 }))
        #expect(Set(rows.compactMap(\.prevhash)).count == total)
        #expect(Support.linksAreValid(rows))

        // Each writer's events are chained in the order that writer committed them.
        let sequenceOf = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.sequence ?? 0) })
        for ids in writerIDs {
            let sequences = ids.map { sequenceOf[$0] ?? 0 }
            #expect(sequences == sequences.sorted())
        }

        let verification = try await ChainVerifier(database: database).verify(logger: logger)
        #expect(verification.isIntact)
        #expect(verification.checked == Int64(total))
        #expect(verification.unchained == 0)
    }

    @Test("eight writers and a running chainer service: every event chained once, gap-free")
    func writersWithChainerService() async throws {
        try await TestDatabase.withDatabase { database in
            let chainer = AuditChainer(database: database, interval: .milliseconds(20), logger: logger)
            let (writerIDs, chainedWhileWriting) = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await chainer.run() }
                let writerIDs = try await Self.runWriters(database)
                let chainedWhileWriting = try await AuditReader.events(in: database).filter { $0.sequence != nil }.count
                group.cancelAll()
                try await group.waitForAll()
                return (writerIDs, chainedWhileWriting)
            }
            // The service did chain while the writers were writing (a later drain is not doing all the work).
            #expect(chainedWhileWriting > 0)
            _ = try await Support.drain(database)
            try await checkChain(database, writerIDs: writerIDs)
        }
    }

    @Test("two chainers racing never fork the chain")
    func twoChainers() async throws {
        try await TestDatabase.withDatabase { database in
            let chainers = (0..<2).map { _ in AuditChainer(database: database, batchSize: 7, logger: logger) }
            let writersDone = Flag()
            let (writerIDs, chainedCounts) = try await withThrowingTaskGroup(of: Int.self) { group in
                for chainer in chainers {
                    group.addTask {
                        // Call chainPending directly so that any error (such as a unique violation from a fork)
                        // fails the test instead of being retried quietly.
                        var total = 0
                        while true {
                            let done = writersDone.isRaised
                            let chained = try await chainer.chainPending()
                            total += chained
                            if done && chained == 0 { return total }
                            if chained == 0 { try await Task.sleep(for: .milliseconds(1)) }
                        }
                    }
                }
                let writerIDs = try await Self.runWriters(database)
                writersDone.raise()
                var counts: [Int] = []
                for try await count in group { counts.append(count) }
                return (writerIDs, counts)
            }
            let drained = try await Support.drain(database)
            // Each event was chained by exactly one pass of one chainer (or of the final drain).
            #expect(chainedCounts.reduce(0, +) + drained == Self.writers * Self.eventsPerWriter)
            try await checkChain(database, writerIDs: writerIDs)
        }
    }
}
