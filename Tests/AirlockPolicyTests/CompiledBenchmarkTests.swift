import Foundation
import Testing

@testable import AirlockPolicy

/// The measuring core of `airlock policy bench`.
@Suite("Policy benchmark")
struct CompiledBenchmarkTests {
    private static func directory(with policy: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try policy.write(to: url.appendingPathComponent("main.airlock"), atomically: true, encoding: .utf8)
        return url
    }

    private static let lines = [
        #"{"principal": {"groups": ["sre"], "mfa_age": 60, "on_call": false}, "resource": {"env": "prod"}, "#
            + #""request": {"role": "readonly", "ttl": 600, "source_ip": "10.1.2.3", "break_glass": false}, "risk": {"score": 5}}"#,
        #"{"principal": {"groups": ["dba"]}, "resource": {"env": "prod"}, "request": {"role": "readwrite", "source_ip": "10.9.9.9"}, "#
            + #""risk": {"score": 5}}"#,
        #"{"risk": {"score": 90}}"#,
        "",
        "not json",
    ]

    @Test func measuresAndEndsWithTheSummaryLine() throws {
        let url = try Self.directory(with: examplePolicy)
        defer { try? FileManager.default.removeItem(at: url) }
        let result = try PolicyBenchmark.run(directory: url, inputLines: Self.lines, minimumDuration: .milliseconds(30), batchSize: 8)
        #expect(result.rules == 5)
        #expect(result.inputs == 3)
        #expect(result.malformedLines == 1)
        #expect(result.decisions >= 3 * 8)
        #expect(result.decisions % 8 == 0)
        #expect(result.medianNanoseconds > 0)
        #expect(result.medianNanoseconds <= result.p99Nanoseconds)
        #expect(result.decisionsPerSecond > 0)
        #expect(result.outcomes.values.reduce(0, +) == result.decisions)
        #expect(result.outcomes[.permit, default: 0] > 0 && result.outcomes[.deny, default: 0] > 0)
        let summary = result.summaryLine
        #expect(summary == "median_ns=\(result.medianNanoseconds) p99_ns=\(result.p99Nanoseconds) "
            + "decisions_per_s=\(result.decisionsPerSecond) load_ms=\(result.loadMilliseconds)")
        #expect(summary.wholeMatch(of: /median_ns=\d+ p99_ns=\d+ decisions_per_s=\d+ load_ms=\d+/) != nil)
        #expect(result.report.split(separator: "\n").last.map(String.init) == summary)
    }

    @Test func failsOnABadPolicyDirectoryOrNoInputs() throws {
        let broken = try Self.directory(with: #"permit "p" when nope;"#)
        defer { try? FileManager.default.removeItem(at: broken) }
        #expect {
            try PolicyBenchmark.run(directory: broken, inputLines: Self.lines, minimumDuration: .zero)
        } throws: { error in
            guard case .policiesDidNotLoad(let load)? = error as? PolicyBenchmark.Failure else { return false }
            return load.diagnostics.first?.message.contains("nope") == true
        }
        let good = try Self.directory(with: examplePolicy)
        defer { try? FileManager.default.removeItem(at: good) }
        #expect {
            try PolicyBenchmark.run(directory: good, inputLines: ["[1]", " "], minimumDuration: .zero)
        } throws: { error in
            guard case .noInputs(let malformed, let problem)? = error as? PolicyBenchmark.Failure else { return false }
            return malformed == 1 && problem != nil
        }
    }

    @Test(arguments: [
        ([Int64](), 50, Int64(0)), ([7], 50, 7), ([7], 99, 7), ([1, 2], 50, 1), ([1, 2, 3], 50, 2),
        (Array(1...100), 50, 50), (Array(1...100), 99, 99), (Array(1...1_000), 99, 990), (Array(1...10), 99, 10),
    ])
    func nearestRankPercentile(samples: [Int64], percent: Int, expected: Int64) {
        #expect(PolicyBenchmark.percentile(samples, percent) == expected)
    }
}
