import AirlockCore
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// The start-up check of `airlock serve`: each target cluster's databases that PUBLIC may connect to are named in a
/// warning (issue 10, item 18).
@Suite struct ClusterCheckTests {
    @Test("a database open to PUBLIC on a target cluster is named in a warning at start", .timeLimit(.minutes(3)))
    func openDatabaseIsNamed() async throws {
        let fixture = try await TargetFixture.make()
        let open = "open_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        try await TestDatabase.execute("CREATE DATABASE \(open)", on: fixture.admin)  // PUBLIC may connect
        let logs = CapturedLogs()
        let provider = PostgresRoleProvider(logger: logs.logger(), operationTimeout: .seconds(60))
        var unreachable = fixture.resource
        unreachable.id = "gone"
        unreachable.postgres?.port = 1
        let checks = await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await provider.run() }
            defer { group.cancelAll() }
            // Two resources on one cluster are checked once; an unreachable cluster is reported, not fatal.
            return await provider.checkClusters(of: [fixture.resource, fixture.resource, unreachable])
        }
        try await TestDatabase.execute("DROP DATABASE \(open)", on: fixture.admin)
        #expect(checks.count == 2)
        let reached = try #require(checks.first)
        #expect(reached.failure == nil && reached.databasesOpenToPublic.contains(open))
        #expect(!reached.databasesOpenToPublic.contains(fixture.database))
        #expect(checks.last?.failure != nil && checks.last?.cluster.hasSuffix(":1") == true)
        let warning = try #require(logs.all.first { $0.hasPrefix("warning") && $0.contains("PUBLIC may connect") })
        #expect(warning.contains(open) && warning.contains("REVOKE CONNECT"))
        #expect(logs.all.contains { $0.hasPrefix("warning") && $0.contains("could not check") })
        #expect(!logs.text.contains(fixture.resource.postgres?.adminPassword ?? "-"))
    }
}
