import Foundation

/// The measuring core of `airlock policy bench`: load-and-validate time, then the time per decision of
/// the compiled policy set on already decoded inputs, single-threaded, on a ``ContinuousClock``. Like Cedar's
/// engine timer (which times `is_authorized` on a built request and entity store), the timed call is
/// ``CompiledPolicy/decide(_:)`` on an ``EvaluationInput``: JSON decoding and encoding are not timed.
///
/// Each sample times a batch of decisions on one input and divides by the batch size, so the clock's own
/// cost does not swamp nanosecond-scale decisions while each input still gets its own samples; the median
/// and p99 are taken over those per-decision samples.
public enum PolicyBenchmark {
    /// What a benchmark run measured.
    public struct Result: Sendable, Hashable {
        /// Rules in the loaded set.
        public var rules: Int
        /// Policy files loaded.
        public var files: Int
        /// Rules reached only through the index (evaluated when their key matches).
        public var indexedRules: Int
        /// Index groups (rules sharing key attributes); each decision visits every group.
        public var indexGroups: Int = 0
        /// Input lines decoded and used.
        public var inputs: Int
        /// Input lines that did not decode (skipped).
        public var malformedLines: Int
        /// Decisions timed.
        public var decisions: Int
        /// Decisions per sample: each sample times this many decisions on one input.
        public var batchSize: Int
        /// Total time spent in timed decisions.
        public var measuredDuration: Duration
        /// Median time per decision, in nanoseconds.
        public var medianNanoseconds: Int64
        /// 99th percentile (nearest rank) of the time per decision, in nanoseconds.
        public var p99Nanoseconds: Int64
        /// Timed decisions divided by the time they took.
        public var decisionsPerSecond: Int64
        /// Time to read, parse, validate and compile the policy directory.
        public var loadDuration: Duration
        /// How many timed decisions came out permit, pending approval and deny.
        public var outcomes: [Decision.Outcome: Int]

        /// `load_ms`: ``loadDuration`` in whole milliseconds, rounded.
        public var loadMilliseconds: Int64 { (PolicyBenchmark.nanoseconds(loadDuration) + 500_000) / 1_000_000 }

        /// The one-line summary the command prints last: `median_ns=N p99_ns=N decisions_per_s=N load_ms=N`.
        public var summaryLine: String {
            "median_ns=\(medianNanoseconds) p99_ns=\(p99Nanoseconds) decisions_per_s=\(decisionsPerSecond) load_ms=\(loadMilliseconds)"
        }

        /// A human-readable report, ending with ``summaryLine``.
        public var report: String {
            let loadMs = Double(PolicyBenchmark.nanoseconds(loadDuration)) / 1e6
            let seconds = Double(PolicyBenchmark.nanoseconds(measuredDuration)) / 1e9
            let mix = Decision.Outcome.allCases.map { "\($0.rawValue) \(outcomes[$0, default: 0])" }.joined(separator: ", ")
            return [
                "policies: \(rules) rule\(rules == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s") "
                    + "(\(indexedRules) indexed in \(indexGroups) groups), loaded and validated in \(String(format: "%.2f", loadMs)) ms",
                "inputs: \(inputs) decoded" + (malformedLines > 0 ? ", \(malformedLines) malformed line\(malformedLines == 1 ? "" : "s") skipped" : ""),
                "decisions: \(decisions) in \(String(format: "%.2f", seconds)) s, single-threaded on already-decoded inputs "
                    + "(JSON decoding not timed), timed in batches of \(batchSize) (\(mix))",
                "per decision: median \(medianNanoseconds) ns, p99 \(p99Nanoseconds) ns; \(decisionsPerSecond) decisions/s",
                summaryLine,
            ].joined(separator: "\n")
        }
    }

    /// Why a benchmark could not run.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The policy directory did not load; the diagnostics say why.
        case policiesDidNotLoad(PolicyLoadError)
        /// No input line decoded; the first problem is given.
        case noInputs(malformedLines: Int, firstProblem: String?)

        /// One message per problem.
        public var description: String {
            switch self {
            case .policiesDidNotLoad(let error):
                return error.description
            case .noInputs(let malformed, let problem):
                return "no usable input lines (\(malformed) malformed)" + (problem.map { ": \($0)" } ?? "")
            }
        }
    }

    /// Loads `directory` (timed), decodes `inputLines` (blank lines ignored, malformed ones skipped and
    /// counted), then times decisions until `minimumDuration` has been spent deciding and every input
    /// has been measured at least once.
    public static func run(
        directory: URL, inputLines: [String], minimumDuration: Duration = .seconds(1), batchSize: Int = 16
    ) throws(Failure) -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        let loaded = PolicySet.load(directory: directory)
        let loadDuration = clock.now - start
        let policySet: PolicySet
        switch loaded {
        case .success(let set): policySet = set
        case .failure(let error): throw .policiesDidNotLoad(error)
        }
        var inputs: [EvaluationInput] = []
        var malformed = 0
        var firstProblem: String?
        for line in inputLines where !line.allSatisfy(\.isWhitespace) {
            do throws(InputError) {
                inputs.append(try policySet.decodeInput(jsonLine: line))
            } catch {
                malformed += 1
                if firstProblem == nil { firstProblem = error.message }
            }
        }
        guard !inputs.isEmpty else { throw .noInputs(malformedLines: malformed, firstProblem: firstProblem) }
        var result = measure(
            policySet: policySet, inputs: inputs, loadDuration: loadDuration,
            minimumDuration: minimumDuration, batchSize: batchSize)
        result.malformedLines = malformed
        return result
    }

    /// Times decisions of `policySet` on `inputs` (non-empty for a meaningful result).
    public static func measure(
        policySet: PolicySet, inputs: [EvaluationInput], loadDuration: Duration,
        minimumDuration: Duration, batchSize: Int = 16
    ) -> Result {
        let compiled = CompiledPolicy(policySet)
        let batch = max(1, batchSize)
        var outcomes: [Decision.Outcome: Int] = [:]
        let inputOutcomes = inputs.map { compiled.decide($0).outcome }  // also the warm-up
        let clock = ContinuousClock()
        var samples: [Int64] = []
        var measured = Duration.zero
        var decisions = 0
        var next = 0
        while !inputs.isEmpty, measured < minimumDuration || decisions < inputs.count * batch {
            let input = inputs[next]
            let start = clock.now
            for _ in 0..<batch { keep(compiled.decide(input)) }
            let elapsed = clock.now - start
            outcomes[inputOutcomes[next], default: 0] += batch
            measured += elapsed
            decisions += batch
            samples.append(nanoseconds(elapsed) / Int64(batch))
            next = next + 1 == inputs.count ? 0 : next + 1
        }
        samples.sort()
        let total = nanoseconds(measured)
        let statistics = compiled.statistics
        return Result(
            rules: policySet.rules.count, files: policySet.files.count, indexedRules: statistics.indexedRules,
            indexGroups: statistics.groups,
            inputs: inputs.count, malformedLines: 0, decisions: decisions, batchSize: batch,
            measuredDuration: measured, medianNanoseconds: percentile(samples, 50), p99Nanoseconds: percentile(samples, 99),
            decisionsPerSecond: total > 0 ? Int64(Double(decisions) * 1e9 / Double(total)) : 0,
            loadDuration: loadDuration, outcomes: outcomes)
    }

    /// The nearest-rank percentile of sorted samples; 0 when there are none.
    static func percentile(_ sorted: [Int64], _ percent: Int) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = (sorted.count * percent + 99) / 100
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    /// Keeps a decision alive so that the optimiser cannot drop the timed call.
    @_optimize(none)
    private static func keep(_ decision: Decision) {}

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
