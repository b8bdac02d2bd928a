/// The outcome of running a ``PolicyTestSuite`` against a policy set: one result per case, in file and case order.
public struct PolicyTestReport: Sendable, Hashable, CustomStringConvertible {
    /// How one case came out.
    public struct CaseResult: Sendable, Hashable {
        /// The test file the case is in.
        public var file: String
        /// The case's name.
        public var name: String
        /// Whether the decision met every expectation of the case.
        public var passed: Bool
        /// Every difference between the expectation and the decision (or why the input was rejected),
        /// one readable line each, e.g. "expected decision permit, got deny"; empty when passed.
        public var mismatches: [String]
        /// The decision, or nil when the case's input was rejected before evaluation.
        public var decision: Decision?

        /// Creates a result; it passed when there are no mismatches.
        public init(file: String, name: String, mismatches: [String], decision: Decision?) {
            self.file = file
            self.name = name
            self.passed = mismatches.isEmpty
            self.mismatches = mismatches
            self.decision = decision
        }
    }

    /// Every case's result, in file order and then in the order written.
    public var results: [CaseResult]

    /// Creates a report.
    public init(results: [CaseResult]) {
        self.results = results
    }

    /// How many cases passed.
    public var passed: Int { results.filter(\.passed).count }

    /// How many cases failed.
    public var failed: Int { results.count - passed }

    /// Whether every case passed.
    public var allPassed: Bool { failed == 0 }

    /// The results of the failed cases.
    public var failures: [CaseResult] { results.filter { !$0.passed } }

    /// `N passed, M failed`, the last line `airlock policy test` prints.
    public var summaryLine: String { "\(passed) passed, \(failed) failed" }

    /// Each failed case as `FAIL file: name`, its mismatches and the decision it got, then ``summaryLine``.
    public var description: String {
        var lines: [String] = []
        for failure in failures {
            lines.append("FAIL \(failure.file): \(failure.name)")
            lines += failure.mismatches.map { "  - \($0)" }
            if let decision = failure.decision {
                lines.append("  got: \(decision.json)")
            }
        }
        lines.append(summaryLine)
        return lines.joined(separator: "\n")
    }
}
