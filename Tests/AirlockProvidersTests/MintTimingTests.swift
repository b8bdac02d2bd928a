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
        let mints = try await withProvider { provider in
            let expiry = Date().addingTimeInterval(600)
            _ = try await provider.mint(resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: expiry)
            var samples: [Duration] = []
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                _ = try await provider.mint(resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: expiry)
                samples.append(ContinuousClock.now - start)
            }
            return samples
        }
        let connection = try await PostgresConnection.connect(
            configuration: fixture.admin.with(database: fixture.database).connectionConfiguration(), id: 3,
            logger: TestDatabase.logger)
        var raw: [Duration] = []
        var verifiers: [Duration] = []
        var rawPlaintext: [Duration] = []
        for index in 0..<rounds {
            let start = ContinuousClock.now
            let verifier = try SCRAMVerifier(password: SecureRandom.base62(40)).text
            verifiers.append(ContinuousClock.now - start)
            let name = "raw_\(index)_\(UInt32.random(in: 0...UInt32.max))"
            let created = ContinuousClock.now
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE ROLE \(name) LOGIN PASSWORD '\(verifier)'"), logger: TestDatabase.logger)
            raw.append(ContinuousClock.now - created)
            let plain = ContinuousClock.now  // the server hashes a plaintext password itself (4096 rounds)
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE ROLE \(name)_p LOGIN PASSWORD '\(SecureRandom.base62(40))'"),
                logger: TestDatabase.logger)
            rawPlaintext.append(ContinuousClock.now - plain)
        }
        try await connection.close()
        func median(_ samples: [Duration]) -> Duration { samples.sorted()[samples.count / 2] }
        let mintMedian = median(mints)
        print("mint p50 \(mintMedian), raw CREATE ROLE p50 \(median(raw)) with a verifier, "
            + "\(median(rawPlaintext)) with a plaintext password, SCRAM verifier p50 \(median(verifiers)) "
            + "(debug build, \(rounds) rounds)")
        #expect(mintMedian < .milliseconds(250))
    }
}
