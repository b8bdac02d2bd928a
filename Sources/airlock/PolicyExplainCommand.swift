import AirlockPolicy
import ArgumentParser

/// `airlock policy explain --policies DIR --input FILE.json`: why each rule did or did not apply to one input.
struct PolicyExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain the decision for one input: every rule, and the first condition that failed.",
        discussion: """
            The input is one JSON object in the `eval` input format (it may span lines). Prints the decision, then \
            each rule in load order with whether it applied and, where not, the condition that stopped it, with \
            its source line and the attribute values it saw (e.g. needs `principal.mfa_age <= 15m`; yours is 2h). \
            --json prints one JSON object instead. Exits 1 when the policies do not load or the input is malformed.
            """)

    @Option(help: "The policy directory.")
    var policies: String

    @Option(help: "The JSON input file (`-` for stdin).")
    var input: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let policySet = try PolicyCommandSupport.loadPolicies(policies)
        let text = try PolicyCommandSupport.readInput(input)
        let evaluationInput: EvaluationInput
        do {
            evaluationInput = try policySet.decodeInput(jsonLine: text)
        } catch {
            PolicyCommandSupport.printError("error: \(input): \(error.message)")
            throw ExitCode(1)
        }
        let explanation = policySet.explain(evaluationInput)
        print(json ? PolicyExplainOutput.json(explanation) : PolicyExplainOutput.text(explanation))
    }
}
