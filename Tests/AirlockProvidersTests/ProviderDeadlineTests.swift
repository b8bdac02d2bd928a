import AirlockCore
import AirlockProviders
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// A deadline that bounds: a provider call past its deadline is abandoned and its connection closed, so calls stuck
/// on a dead path never take the target's whole pool (issue 11, item 10).
@Suite struct ProviderDeadlineTests {
    @Test("a call abandoned at its deadline closes its connection: the next call gets a working one",
          .timeLimit(.minutes(2)))
    func abandonedCallFreesItsConnection() async throws {
        let fixture = try await TargetFixture.make()
        let proxy = try FaultProxy(upstreamPort: fixture.admin.port)
        defer { proxy.stop() }
        var resource = fixture.resource
        resource.postgres?.port = proxy.port
        // One connection in the pool: a call that kept its connection after its deadline would starve the next.
        let provider = PostgresRoleProvider(
            logger: TestDatabase.logger, maximumConnectionsPerTarget: 1, operationTimeout: .seconds(8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await provider.run() }
            defer { group.cancelAll() }
            let lease = UUID()
            let credential = try await provider.mint(
                resource: resource, role: "readonly", leaseID: lease, validUntil: Date().addingTimeInterval(600))

            proxy.stallOpenConnections()  // the pooled connection hangs; new connections work
            let stuck = try await provider.revoke(resource: resource, leaseID: lease, username: credential.username)
            #expect(!stuck.isComplete)
            #expect(stuck.description.contains("did not finish within"), "\(stuck)")

            let retried = try await provider.revoke(resource: resource, leaseID: lease, username: credential.username)
            #expect(retried.isComplete, "\(retried); accepted \(proxy.connectionsAccepted), closed by client \(proxy.connectionsClosedByClient)")
            #expect(try await fixture.rows("SELECT 1 FROM pg_roles WHERE rolname = \(credential.username)").isEmpty)
            #expect(proxy.connectionsClosedByClient >= 1)
        }
    }
}
