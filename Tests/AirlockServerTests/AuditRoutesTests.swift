import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// `GET /v1/audit`: the chain, page by page, for auditors.
struct AuditRoutesTests {
    @Test("auditors page through the chained events; filters and bad input", .timeLimit(.minutes(2)))
    func feed() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let auditor = try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "siem", scopes: ["auditor"], logger: TestDatabase.logger).token
        }
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            for _ in 0..<3 {
                _ = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                    {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-7"}
                    """)
            }
            var all: [JSONValue] = []
            for _ in 0..<40 {  // the chainer links committed events within a fraction of a second
                all = try await client.call(.get, "/v1/audit?limit=1000", token: auditor).json["items"]?.arrayValue ?? []
                if all.filter({ $0["type"] == "airlock.access.requested" }).count == 3 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(all.filter { $0["type"] == "airlock.access.requested" }.count == 3)
            let sequences = all.compactMap { $0["sequence"]?.intValue }
            #expect(sequences == Array(1...Int64(all.count)), "gap-free and in order")
            #expect(all.allSatisfy { $0["hash"]?.stringValue?.count == 64 && $0["prevhash"] != nil })
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.0["hash"] == $0.1["prevhash"] })

            let first = try await client.call(.get, "/v1/audit?limit=2", token: auditor)
            #expect(first.json["items"]?.arrayValue?.count == 2 && first.json["next_after"] == 2)
            let rest = try await client.call(.get, "/v1/audit?after=2&limit=1000", token: auditor)
            #expect(rest.json["items"]?.arrayValue?.count == all.count - 2)
            let typed = try await client.call(.get, "/v1/audit?type=airlock.access.&limit=1000", token: auditor)
            let types = typed.json["items"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(!types.isEmpty && types.allSatisfy { $0.hasPrefix("airlock.access.") })
            let exact = try await client.call(.get, "/v1/audit?type=airlock.access.requested", token: auditor)
            #expect(exact.json["items"]?.arrayValue?.count == 3)

            #expect(try await client.call(.get, "/v1/audit", token: alice).status == .forbidden)
            for bad in ["after=-1", "after=x", "limit=0", "limit=1001", "type=a%20b", "type=x'%3B", "type=%C3%A9"] {
                let answer = try await client.call(.get, "/v1/audit?\(bad)", token: auditor)
                #expect(answer.status == .unprocessableContent, "\(bad): \(answer.json)")
            }
        }
    }
}
