import AirlockPolicy
import ArgumentParser

/// `airlock policy eval --policies DIR --input FILE.jsonl`: one decision per input line.
struct PolicyEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Decide each input line of a JSON Lines file; print one decision JSON per line.",
        discussion: """
            Each line is {"principal": {...}, "resource": {...}, "request": {...}, "risk": {...}}: IPs as strings, \
            durations as integer seconds, sets as arrays; null or a missing attribute is absent, a missing entity \
            is {}, unknown keys are ignored. Output line N answers input line N: a malformed line, and also a blank \
            line, answers {"error": "line N: ..."} and evaluation goes on (a final newline does not start a line). \
            Exits 0 when the policies load, even if some lines are malformed; 1 when they do not (diagnostics on \
            stderr) or the input cannot be read.
            """)

    @Option(help: "The policy directory.")
    var policies: String

    @Option(help: "The JSON Lines input file (`-` for stdin).")
    var input: String

    func run() throws {
        let policySet = try PolicyCommandSupport.loadPolicies(policies)
        let text = try PolicyCommandSupport.readInput(input)
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        if lines.last == "" { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                print(InputError(message: "line \(index + 1): blank line; expected a json object").json)
                continue
            }
            do {
                print(policySet.evaluate(try policySet.decodeInput(jsonLine: String(line))).json)
            } catch {
                print(InputError(message: "line \(index + 1): \(error.message)").json)
            }
        }
    }
}
