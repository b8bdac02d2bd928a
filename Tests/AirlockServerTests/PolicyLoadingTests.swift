import AirlockCore
import AirlockPolicy
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Testing

/// The broker loads its policy set at start-up, refuses an invalid one, and records the one it decides with
/// (a `policy_sets` row and an `airlock.policy.loaded` audit event) before it reports ready.
struct PolicyLoadingTests {
    typealias S = ServerSupport

    @Test(.timeLimit(.minutes(2)))
    func anInvalidPolicySetStopsStartUpWithEveryDiagnostic() async throws {
        var config = try S.configuration(url: try await TestDatabase.fresh())
        config.settings.policiesDirectory = S.writePolicies(
            """
            permit "a" when principal.groops contains "sre";
            forbid "b" when risk.score < 15m;
            """)
        do {
            _ = try buildApplication(config: config)
            Issue.record("an invalid policy set was accepted")
        } catch let error as PolicyLoadError {
            let text = error.description
            #expect(text.contains("main.airlock:1:"), "\(text)")
            #expect(text.contains("main.airlock:2:"), "\(text)")
            #expect(text.contains("groops"))
            #expect(text.contains("^"))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aMissingPolicyDirectoryStopsStartUp() async throws {
        var config = try S.configuration(url: try await TestDatabase.fresh())
        config.settings.policiesDirectory = "/nonexistent/airlock-policies"
        #expect(throws: PolicyLoadError.self) { _ = try buildApplication(config: config) }
    }

    @Test(.timeLimit(.minutes(2)))
    func theLoadedSetIsRecordedAndAuditedBeforeReadiness() async throws {
        let url = try await TestDatabase.fresh()
        let app = try buildApplication(config: try S.configuration(url: url))
        try await app.test(.live) { client in
            let response = try await S.waitUntilReady(client)
            #expect(response.status == .ok)
        }
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT id, digest, status FROM policy_sets", logger: TestDatabase.logger)
            var sets: [(UUID, String, String)] = []
            for try await row in rows.decode((UUID, String, String).self) { sets.append(row) }
            #expect(sets.count == 1)
            let (id, digest, status) = try #require(sets.first)
            #expect(status == "loaded")
            #expect(digest.count == 64)

            let found = try await AuditReader.events(in: database, type: "airlock.policy.loaded").map { ($0.subject, $0.event) }
            #expect(found.count == 1)
            #expect(found.first?.0 == id.uuidString.lowercased())
            let event = try JSONValue.parse(Data((found.first?.1 ?? "").utf8))
            #expect(event["data"]?["rules"]?.intValue == 1)
            #expect(event["data"]?["digest"]?.stringValue == digest)

            _ = try await AuditChainer(database: database, logger: TestDatabase.logger).chainPending()
            let verification = try await ChainVerifier(database: database).verify(logger: TestDatabase.logger)
            #expect(verification.isIntact)
            #expect(verification.checked >= 1)
        }
    }
}
