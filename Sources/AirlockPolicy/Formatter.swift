/// The canonical layout of policy files, as `airlock policy fmt` writes them.
///
/// The layout:
/// - `EFFECT "id"` on its own line, then each clause on its own line indented two spaces, in the order
///   written, the `;` at the end of the last clause (a rule without clauses is one line, `permit "id";`);
/// - a `when`/`unless` whose condition is an `and` (or `or`) chain is one line when it fits in
///   ``maximumLineWidth`` columns, else one operand per line with the connective leading and right-aligned
///   under the clause keyword:
///   ```
///   permit "sre-prod-readonly"
///     when "sre" in principal.groups
///      and resource.env == "prod"
///     ttl <= 1h;
///   ```
///   A chain is also broken where a comment belongs to one of its operands, so that the comment stays there;
/// - expressions in ``Expression/description`` form: single spaces, parentheses only where precedence needs
///   them (and around a comparison after `not`: `not (a in b)`), literals canonical (`90m` → `1h30m`, `cidr("10.1.2.3/8")` → `cidr("10.0.0.0/8")`);
///   `approvers` always show `count`;
/// - one blank line between rules and around rules; consecutive `attribute` declarations stay together
///   (without `;`), separated by one blank line only where the source had one;
/// - every comment is kept: a comment on its own line stays before the line (rule, clause, chain operand or
///   declaration) that follows it, with a blank line kept where the source had one between comments and a
///   rule or declaration; a comment at the end of a line stays at the end of the line that holds the code
///   before it. Where the layout joins source lines so that a comment could no longer end its line (several
///   end-of-line comments, or one followed by an own-line comment inside the same expression), those comments
///   move onto their own lines just above, in source order. Trailing spaces are trimmed.
///
/// Formatting is idempotent and preserves meaning: the output parses to the same AST (locations aside).
/// A file with a lexical or syntax error is refused with its diagnostics; schema and type errors are not
/// the formatter's concern (`airlock policy check` reports them).
public enum Formatter {
    /// The widest line the layout aims for; longer `and`/`or` chains are broken one operand per line.
    public static let maximumLineWidth = 100

    /// Lays out `source` canonically, or returns its lexical and syntax diagnostics.
    public static func format(_ source: SourceFile) -> Result<String, PolicyLoadError> {
        let parsed = Parser.parse(source)
        guard parsed.diagnostics.isEmpty else { return .failure(PolicyLoadError(diagnostics: parsed.diagnostics)) }
        var layout = FormatLayout(file: parsed.file, tokens: Lexer.tokenize(source).tokens)
        layout.attach(parsed.file.comments)
        layout.collapseChains()
        return .success(layout.render())
    }

    /// Whether `source` is already in canonical layout, or its lexical and syntax diagnostics.
    public static func isFormatted(_ source: SourceFile) -> Result<Bool, PolicyLoadError> {
        format(source).map { $0 == source.text }
    }
}
