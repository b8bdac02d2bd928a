import AirlockCore
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// How long one mint takes next to a bare `CREATE ROLE` on an open connection (reported, loosely bounded:
/// debug builds on a busy machine vary too much for a tight assertion).
@Suite struct MintTimingTests {
    @Test(.timeLimit(.minutes(3)))
    func mintIsCloseToARawCreateRole() async throws {
        let fixture = try await TargetFixture.make()
        let rounds = 25
        let connection = try await PostgresConnection.connect(
            configuration: fixture.admin.with(database: fixture.database).connectionConfiguration(), id: 3,
            logger: TestDatabase.logger)
        // Interleaved, so both see the same load (other tests run in parallel).
        let (mints, raw, verifiers) = try await withProvider { provider in
            let expiry = Date().addingTimeInterval(600)
            _ = try await provider.mint(resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: expiry)
            var mints: [Duration] = []
            var raw: [Duration] = []
            var verifiers: [Duration] = []
            for index in 0..<rounds {
                let start = ContinuousClock.now
                _ = try await provider.mint(resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: expiry)
                mints.append(ContinuousClock.now - start)
                let derived = ContinuousClock.now
                let verifier = try SCRAMVerifier(password: SecureRandom.base62(40)).text
                verifiers.append(ContinuousClock.now - derived)
                let created = ContinuousClock.now
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE ROLE raw_\(index)_\(UInt32.random(in: 0...UInt32.max)) LOGIN PASSWORD '\(verifier)'"),
                    logger: TestDatabase.logger)
                raw.append(ContinuousClock.now - created)
            }
            return (mints, raw, verifiers)
        }
        try await connection.close()
        func median(_ samples: [Duration]) -> Duration { samples.sorted()[samples.count / 2] }
        let mintMedian = median(mints)
        print("mint p50 \(mintMedian), raw CREATE ROLE p50 \(median(raw)), SCRAM verifier p50 \(median(verifiers)) "
            + "(debug build, \(rounds) rounds)")
        #expect(mintMedian < .milliseconds(250))
    }
}
