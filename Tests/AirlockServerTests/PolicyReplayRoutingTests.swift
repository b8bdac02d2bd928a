import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue 12: `policy replay` reports the decisions that change when a fixed-group rule is rewritten with
/// `group(resource.owner)`. The history is PolicyReplayTests' 180 requests decided under the example `Policies/`;
/// `prod-write` (two `db-owners` and one `security`) becomes "two of the owning team and one security engineer".
@Suite(.serialized)
struct PolicyReplayRoutingTests {
    @Test("rewriting group(\"db-owners\") as group(resource.owner) changes exactly the pending prod-write requests' approvers",
          .timeLimit(.minutes(3)))
    func ownerRewriteIsReported() async throws {
        let samples = PolicyReplayTests.samples(count: 180)
        let now = Date()
        let since = now.addingTimeInterval(-7 * 86_400)
        try await TestDatabase.withDatabase { database in
            try await PolicyReplayTests.store(samples, in: database, now: now)
            let history = AccessRequestHistory(database: database, logger: TestDatabase.logger)
            let owners = PolicyReplay(policies: try PolicyReplayTests.load(try PolicyReplayTests.copyOfPolicies(
                editing: "production.airlock",
                replacing: #"approvers group("db-owners") count 2, group("security") count 1"#,
                with: #"approvers group(resource.owner) count 2, group("security") count 1"#)))
            let report = try await owners.run(history, since: since, pageSize: 20)
            #expect(report.failures.isEmpty)

            // Expected from the stored decisions alone: every recent request pending on prod-write.
            let baseline = try await PolicyReplay(policies: try PolicyReplayTests.load(try PolicyReplayTests.copyOfPolicies()))
                .run(history, since: since)
            #expect(!baseline.hasChanges)
            var pendingOnProdWrite: Set<String> = []
            try await history.forEachPage(since: since) { page in
                for request in page where request.decision.approvals.contains(where: { $0.rule == "prod-write" }) {
                    pendingOnProdWrite.insert(request.principalID)
                }
            }
            #expect(pendingOnProdWrite.count >= 3, "the samples should exercise the rule")
            #expect(Set(report.changes.map(\.request.principalID)) == pendingOnProdWrite)
            for change in report.changes {
                #expect(change.change.aspects == [.approvals])
                #expect(change.change.before.outcome == .pendingApproval && change.change.after.outcome == .pendingApproval)
                let before = try #require(change.change.before.approvals.first { $0.rule == "prod-write" })
                let after = try #require(change.change.after.approvals.first { $0.rule == "prod-write" })
                #expect(before.requires == [.group("db-owners", count: 2), .group("security", count: 1)])
                // orders-db is owned by payments.
                #expect(after.requires == [.group("payments", count: 2), .group("security", count: 1)])
            }
        }
    }
}
