import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// The SIEM sinks' durable cursors on PostgreSQL (migration 0013): one broker claims a sink at a time, the cursor
/// moves only forward and only for the claimant, and a claim lapses or is given up for another broker to take over.
@Suite("Audit sink cursors on PostgreSQL", .timeLimit(.minutes(2)))
struct AuditSinkCursorsTests {
    let logger = Support.logger

    @Test("a new sink starts at 0; its claimant advances it; another broker waits until the claim lapses")
    func claimAdvanceLapse() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let clock = TestClock()
            let first = AuditSinkCursors(database: database, clock: clock, claimDuration: 30)
            let second = AuditSinkCursors(database: database, clock: clock, claimDuration: 30)
            #expect(try await first.position("default", logger: logger) == nil)
            #expect(try await first.claim("default", logger: logger) == 0)
            #expect(try await second.claim("default", logger: logger) == nil)
            #expect(try await first.advance("default", to: 12, logger: logger))
            #expect(try await first.claim("default", logger: logger) == 12)  // renewed by its holder
            #expect(try await second.advance("default", to: 20, logger: logger) == false)
            #expect(try await first.advance("default", to: 12, logger: logger) == false)  // never back or in place
            #expect(try await first.advance("default", to: 5, logger: logger) == false)
            #expect(try await first.position("default", logger: logger) == 12)

            clock.advance(29)
            #expect(try await second.claim("default", logger: logger) == nil)
            clock.advance(2)  // the first broker died 31 s ago: its claim has lapsed
            #expect(try await second.claim("default", logger: logger) == 12)
            #expect(try await first.claim("default", logger: logger) == nil)
            #expect(try await first.advance("default", to: 30, logger: logger) == false)  // too late: no longer its own
            #expect(try await second.advance("default", to: 30, logger: logger))
            #expect(try await first.position("default", logger: logger) == 30)
        }
    }

    @Test("a released sink is taken at once; sinks of different names are independent")
    func releaseAndNames() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let first = AuditSinkCursors(database: database)
            let second = AuditSinkCursors(database: database)
            #expect(try await first.claim("default", logger: logger) == 0)
            #expect(try await second.claim("replica-b", logger: logger) == 0)
            #expect(try await second.claim("default", logger: logger) == nil)
            try await second.release("default", logger: logger)  // not its own: changes nothing
            #expect(try await second.claim("default", logger: logger) == nil)
            try await first.release("default", logger: logger)
            #expect(try await second.claim("default", logger: logger) == 0)
            #expect(try await first.claim("replica-b", logger: logger) == nil)
        }
    }

    @Test("sink names: what the table accepts", arguments: [
        ("default", true), ("replica-1.eu:west_2", true), ("9lives", true), ("", false), ("-x", false),
        ("Default", false), ("a b", false), (String(repeating: "a", count: 63), true),
        (String(repeating: "a", count: 64), false),
    ])
    func names(_ name: String, _ valid: Bool) async throws {
        #expect(AuditSinkCursors.isValidName(name) == valid)
    }

    @Test("the table refuses a name its check does not allow, as isValidName does")
    func tableCheck() async throws {
        try await TestDatabase.withDatabase { database async throws in
            await #expect(throws: PSQLError.self) {
                try await database.client.query("INSERT INTO audit_sinks (name) VALUES ('Bad Name')", logger: logger)
            }
        }
    }
}
