/// The third stage: checks parsed files against the schema and the rules of the language.
///
/// It builds the schema (built-ins plus every `attribute` declaration of every file), then checks each
/// rule: unique id, clause placement, expression types, and that every read of an optional attribute
/// is guarded by a `has` test earlier on the rule's `and` chain. Every problem becomes a ``Diagnostic``.
public struct Validator {
    /// The schema in force and every problem found.
    public struct Output: Sendable {
        /// The built-in attributes plus the valid declarations.
        public var schema: Schema
        /// The problems, in no particular order (``PolicyLoadError`` sorts them).
        public var diagnostics: [Diagnostic]
    }

    var schema: Schema
    var diagnostics: [Diagnostic] = []
    var source: SourceFile

    private init(schema: Schema, source: SourceFile) {
        self.schema = schema
        self.source = source
    }

    /// Validates `files`, which must be in load order (file name order).
    public static func validate(_ files: [PolicyFile], baseSchema: Schema = .builtIn) -> Output {
        var validator = Validator(schema: baseSchema, source: SourceFile(name: "", text: ""))
        for file in files {
            validator.source = file.source
            for declaration in file.declarations {
                validator.declare(declaration, builtIn: baseSchema)
            }
        }
        var firstDefinitions: [String: SourceLocation] = [:]
        for file in files {
            validator.source = file.source
            for rule in file.rules {
                if let first = firstDefinitions[rule.id] {
                    validator.report("duplicate rule id `\(rule.id)`; it is first defined at \(first)", at: rule.idLocation)
                } else {
                    firstDefinitions[rule.id] = rule.idLocation
                }
                validator.check(rule)
            }
        }
        return Output(schema: validator.schema, diagnostics: validator.diagnostics)
    }

    mutating func report(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(message, at: location, in: source))
    }

    private mutating func declare(_ declaration: AttributeDeclaration, builtIn: Schema) {
        if builtIn[declaration.path] != nil {
            report("attribute `\(declaration.path)` is built in and cannot be redeclared", at: declaration.pathLocation)
        } else if !schema.declare(declaration.path, as: declaration.type) {
            report("attribute `\(declaration.path)` is already declared", at: declaration.pathLocation)
        }
    }

    private mutating func check(_ rule: Rule) {
        if rule.id.isEmpty { report("rule id must not be empty", at: rule.idLocation) }
        var seen: Set<String> = []
        var guards: Set<AttributePath> = []
        var approverClauses: [[ApprovalRequirement]] = []
        for clause in rule.clauses {
            let keyword = clause.keyword
            if keyword != "when", keyword != "unless", !seen.insert(keyword).inserted {
                report("rule `\(rule.id)` has more than one `\(keyword)` clause", at: clause.location)
            }
            switch clause.kind {
            case .when(let expression):
                checkCondition(expression, keyword: keyword, guards: guards)
                guards.formUnion(Self.facts(expression, whenTrue: true))
            case .unless(let expression):
                checkCondition(expression, keyword: keyword, guards: guards)
                guards.formUnion(Self.facts(expression, whenTrue: false))
            case .ttl(let seconds):
                if rule.effect == .forbid {
                    report("`ttl` is not allowed on a `forbid` rule", at: clause.location)
                } else if seconds <= 0 {
                    report("`ttl` must be longer than `0s`", at: clause.location)
                }
            case .approvers(let requirements):
                if rule.effect != .requireApproval {
                    report("`approvers` is only allowed in `require_approval` rules", at: clause.location)
                }
                var listed: Set<String> = []
                for requirement in requirements where !listed.insert(requirement.approvers.written).inserted {
                    report(Self.listedTwiceMessage(requirement.approvers), at: requirement.location)
                }
                approverClauses.append(requirements)
            case .notify(let channels):
                for channel in channels where channel.isEmpty {
                    report("notify channel must not be empty", at: clause.location)
                }
            }
        }
        // The approvers are read after the whole chain held, wherever the clause is written.
        for requirements in approverClauses {
            for requirement in requirements { checkApprovers(requirement.approvers, guards: guards) }
        }
        if rule.effect == .requireApproval, !seen.contains("approvers") {
            report("`require_approval` rule `\(rule.id)` needs an `approvers` clause", at: rule.idLocation)
        }
    }

    private static func listedTwiceMessage(_ approvers: ApprovalRequirement.Approvers) -> String {
        switch approvers {
        case .group(let group):
            "group `\(group)` is listed twice; use one requirement with a larger `count`"
        case .groupNamedBy:
            "`\(approvers.written)` is listed twice; use one requirement with a larger `count`"
        case .userNamedBy:
            "`\(approvers.written)` is listed twice; one person's approval counts once, so it could never be met"
        }
    }

    /// `group(ATTR)` and `user(ATTR)`: ATTR must be a known String attribute, and present whenever the chain
    /// (whose facts are `guards`) held.
    private mutating func checkApprovers(_ approvers: ApprovalRequirement.Approvers, guards: Set<AttributePath>) {
        guard let (path, location) = approvers.attribute else { return }
        guard let type = lookUp(path, at: location) else { return }
        guard type.valueType == .string else {
            let needs = if case .userNamedBy = approvers {
                "`user(...)` needs a String attribute holding a principal id"
            } else {
                "`group(...)` needs a String attribute naming a group"
            }
            report("\(needs); `\(path)` is \(type)", at: location)
            return
        }
        if type.isOptional, !guards.contains(path) {
            report("`\(path)` is optional and may be absent; test `\(path.root.rawValue) has \(path.name)` in the rule's "
                + "`when` clauses first, as in `when \(path.root.rawValue) has \(path.name)`", at: location)
        }
    }

    private mutating func checkCondition(_ expression: Expression, keyword: String, guards: Set<AttributePath>) {
        guard let type = check(expression, guards: guards) else { return }
        if type != .bool {
            report("`\(keyword)` needs a condition that is true or false; `\(expression)` is \(type)", at: expression.location)
        }
    }

    /// The attributes known to be present when `expression` evaluates to `whenTrue` (without error).
    static func facts(_ expression: Expression, whenTrue: Bool) -> Set<AttributePath> {
        let both = facts(expression)
        return whenTrue ? both.whenTrue : both.whenFalse
    }

    /// The attributes known to be present after `expression` evaluated to true, and to false.
    /// One pass over the tree (each node visited once), so the cost is linear.
    static func facts(_ expression: Expression) -> (whenTrue: Set<AttributePath>, whenFalse: Set<AttributePath>) {
        switch expression.kind {
        case .has(let path):
            return ([path], [])
        case .not(let operand):
            let inner = facts(operand)
            return (inner.whenFalse, inner.whenTrue)
        case .and(let operands):
            // True: every operand was true. False: some operand was false after the earlier ones were true.
            var prefix: Set<AttributePath> = []
            var whenFalse: [Set<AttributePath>] = []
            for operand in operands {
                let inner = facts(operand)
                whenFalse.append(prefix.union(inner.whenFalse))
                prefix.formUnion(inner.whenTrue)
            }
            return (prefix, intersection(whenFalse))
        case .or(let operands):
            // False: every operand was false. True: some operand was true after the earlier ones were false.
            var prefix: Set<AttributePath> = []
            var whenTrue: [Set<AttributePath>] = []
            for operand in operands {
                let inner = facts(operand)
                whenTrue.append(prefix.union(inner.whenTrue))
                prefix.formUnion(inner.whenFalse)
            }
            return (intersection(whenTrue), prefix)
        default:
            return ([], [])
        }
    }

    private static func intersection(_ sets: [Set<AttributePath>]) -> Set<AttributePath> {
        guard let first = sets.first else { return [] }
        return sets.dropFirst().reduce(first) { $0.intersection($1) }
    }
}
