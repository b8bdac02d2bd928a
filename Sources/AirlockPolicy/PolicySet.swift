import Foundation

/// A parsed and validated policy set, ready to decide requests. The only way to get one is to load it,
/// so a `PolicySet` value never holds an invalid rule. An empty set denies everything (fail closed).
public struct PolicySet: Sendable {
    /// The files, in load (file name) order.
    public let files: [PolicyFile]
    /// The built-in attributes plus the declared ones.
    public let schema: Schema
    /// Every rule of every file, in load order.
    public let rules: [Rule]
    private let sourcesByName: [String: SourceFile]
    /// The rules compiled for fast decisions; ``evaluate(_:)`` goes through it.
    let compiled: CompiledPolicy

    private init(files: [PolicyFile], schema: Schema) {
        self.files = files
        self.schema = schema
        self.rules = files.flatMap(\.rules)
        self.compiled = CompiledPolicy(rules: rules, schema: schema)
        self.sourcesByName = Dictionary(files.map { ($0.source.name, $0.source) }, uniquingKeysWith: { first, _ in first })
    }

    /// A set without rules: it denies every request.
    public static let empty = PolicySet(files: [], schema: .builtIn)

    /// The source files, in load order.
    public var sources: [SourceFile] { files.map(\.source) }

    /// The rule with this id, if any.
    public func rule(id: String) -> Rule? { rules.first { $0.id == id } }

    /// Parses and validates `sources` (sorted by name first) as one policy set.
    /// Any problem in any file fails the whole load with every diagnostic found.
    public static func load(sources: [SourceFile]) -> Result<PolicySet, PolicyLoadError> {
        let ordered = sources.enumerated().sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }.map(\.element)
        var diagnostics: [Diagnostic] = []
        var files: [PolicyFile] = []
        for source in ordered {
            let parsed = Parser.parse(source)
            diagnostics += parsed.diagnostics
            files.append(parsed.file)
        }
        let validated = Validator.validate(files)
        diagnostics += validated.diagnostics
        guard diagnostics.isEmpty else { return .failure(PolicyLoadError(diagnostics: diagnostics)) }
        return .success(PolicySet(files: files, schema: validated.schema))
    }

    /// Loads `DIR/*.airlock` in file name order; subdirectories (such as `tests/`) are ignored.
    /// File names in diagnostics are the directory as given joined with the file name.
    public static func load(directory: URL) -> Result<PolicySet, PolicyLoadError> {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory.path)
        } catch {
            return .failure(PolicyLoadError(message: "cannot read policy directory `\(directory.relativePath)`",
                file: directory.relativePath))
        }
        var sources: [SourceFile] = []
        for name in names.sorted() where name.hasSuffix(".airlock") {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard let data = manager.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
                return .failure(PolicyLoadError(message: "cannot read `\(name)` as utf-8 text", file: url.relativePath))
            }
            sources.append(SourceFile(name: url.relativePath, text: text))
        }
        return load(sources: sources)
    }

    /// Decides one request through the compiled form; the decision equals ``Evaluator/decide(_:)``'s.
    public func evaluate(_ input: EvaluationInput) -> Decision {
        compiled.decide(input)
    }

    /// Decides one request and explains, for every rule, whether it applied and why not.
    public func explain(_ input: EvaluationInput) -> Explanation {
        Evaluator(rules: rules).explain(input, sources: sourcesByName)
    }

    /// Decodes one `airlock policy eval` input line against this set's schema.
    public func decodeInput(jsonLine: String) throws(InputError) -> EvaluationInput {
        try EvaluationInput.decode(jsonLine: jsonLine, schema: schema)
    }

    /// Decodes an input document built as a value against this set's schema.
    public func decodeInput(_ document: JSONInput) throws(InputError) -> EvaluationInput {
        try EvaluationInput.decode(document: document, schema: schema)
    }
}
