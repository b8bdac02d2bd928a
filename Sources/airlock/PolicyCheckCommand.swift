import AirlockPolicy
import ArgumentParser

/// `airlock policy check [DIR]`: parse and validate a policy directory.
struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and validate a policy directory.",
        discussion: """
            Loads DIR/*.airlock in name order, as the broker does (subfolders such as tests/ are not policies). \
            Prints `N rules in M files: ok` and exits 0 when the set is clean; otherwise prints every \
            diagnostic to stderr (file:line:column, the source line, a caret) and exits 1.
            """)

    @Argument(help: "The policy directory.")
    var directory = PolicyCommand.defaultDirectory

    func run() throws {
        let policies = try PolicyCommandSupport.loadPolicies(directory)
        let rules = policies.rules.count
        let files = policies.files.count
        print("\(rules) rule\(rules == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"): ok")
    }
}
