import AirlockPolicy
import ArgumentParser
import Foundation

/// `airlock policy bench --policies DIR --input FILE.jsonl [--seconds N]`: time decisions.
struct PolicyBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure policy load time and time per decision on the inputs of a JSON Lines file.",
        discussion: """
            Input lines are in the `eval` format; blank lines are ignored and malformed ones skipped (and \
            counted). Inputs are decoded before timing starts: what is timed is the compiled policy set deciding \
            on already-decoded inputs (like Cedar's engine timer), single-threaded, for at least --seconds. The \
            report ends with one line: `median_ns=N p99_ns=N decisions_per_s=N load_ms=N`. Exits 1 when the \
            policies do not load or no input line is usable.
            """)

    @Option(help: "The policy directory.")
    var policies: String

    @Option(help: "The JSON Lines input file (`-` for stdin).")
    var input: String

    @Option(help: "The least time to spend deciding, in seconds.")
    var seconds: Double = 1

    func validate() throws {
        guard seconds > 0, seconds <= 3_600 else { throw ValidationError("--seconds must be more than 0 and at most 3600") }
    }

    func run() throws {
        let lines = try PolicyCommandSupport.readInput(input)
            .split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
        do {
            let result = try PolicyBenchmark.run(
                directory: URL(fileURLWithPath: policies, isDirectory: true), inputLines: lines,
                minimumDuration: .milliseconds(Int64((seconds * 1_000).rounded())))
            print(result.report)
        } catch {
            switch error {
            case .policiesDidNotLoad(let loadError): PolicyCommandSupport.report(loadError)
            case .noInputs: PolicyCommandSupport.printError("error: \(error)")
            }
            throw ExitCode(1)
        }
    }
}
