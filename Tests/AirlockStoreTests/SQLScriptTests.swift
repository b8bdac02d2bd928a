import AirlockStore
import AirlockTestSupport
import Testing

@Suite("SQLScript splitting")
struct SQLScriptTests {
    /// A script and the statements it must split into.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let script: String
        let statements: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "plain statements", script: "SELECT 1; SELECT 2;\n", statements: ["SELECT 1", "SELECT 2"]),
        Case(name: "last statement without a semicolon", script: "SELECT 1;\n  SELECT 2  ",
             statements: ["SELECT 1", "SELECT 2"]),
        Case(name: "semicolon in a string", script: "SELECT 'a;b'; SELECT 2",
             statements: ["SELECT 'a;b'", "SELECT 2"]),
        Case(name: "doubled quote inside a string", script: "SELECT 'it''s; fine'; SELECT 2",
             statements: ["SELECT 'it''s; fine'", "SELECT 2"]),
        Case(name: "string ending in a doubled quote", script: "SELECT ''';'''; SELECT 2",
             statements: ["SELECT ''';'''", "SELECT 2"]),
        Case(name: "backslash escape in an E string", script: #"SELECT E'a\';b'; SELECT 2"#,
             statements: [#"SELECT E'a\';b'"#, "SELECT 2"]),
        Case(name: "lowercase e string", script: #"SELECT e'x\'; y'; SELECT 2"#,
             statements: [#"SELECT e'x\'; y'"#, "SELECT 2"]),
        Case(name: "escaped backslash ends an E string", script: #"SELECT E'\\'; SELECT 2"#,
             statements: [#"SELECT E'\\'"#, "SELECT 2"]),
        Case(name: "backslash is literal in a standard string", script: #"SELECT 'a\'; SELECT 2"#,
             statements: [#"SELECT 'a\'"#, "SELECT 2"]),
        Case(name: "identifier ending in e is not an E prefix", script: #"SELECT name'a\'; SELECT 2"#,
             statements: [#"SELECT name'a\'"#, "SELECT 2"]),
        Case(name: "semicolon in a quoted identifier", script: #"CREATE TABLE "a;b" (x int); SELECT 2"#,
             statements: [#"CREATE TABLE "a;b" (x int)"#, "SELECT 2"]),
        Case(name: "doubled quote in a quoted identifier", script: #"SELECT 1 AS "x"";y"; SELECT 2"#,
             statements: [#"SELECT 1 AS "x"";y""#, "SELECT 2"]),
        Case(name: "dollar-quoted body",
             script: "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 2; $$ LANGUAGE sql; SELECT 3",
             statements: ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 2; $$ LANGUAGE sql", "SELECT 3"]),
        Case(name: "tagged dollar quote containing $$",
             script: "DO $fn$ BEGIN PERFORM $$;$$; RAISE NOTICE 'x;'; END $fn$; SELECT 2",
             statements: ["DO $fn$ BEGIN PERFORM $$;$$; RAISE NOTICE 'x;'; END $fn$", "SELECT 2"]),
        Case(name: "another tag does not close a dollar quote", script: "SELECT $a$ ; $b$ ; $a$; SELECT 2",
             statements: ["SELECT $a$ ; $b$ ; $a$", "SELECT 2"]),
        Case(name: "positional parameters are not dollar quotes", script: "SELECT $1; SELECT $2",
             statements: ["SELECT $1", "SELECT $2"]),
        Case(name: "dollar inside an identifier", script: "SELECT a$b$; SELECT 2",
             statements: ["SELECT a$b$", "SELECT 2"]),
        Case(name: "line comment with a semicolon and a quote", script: "-- it's; a comment\nSELECT 1; SELECT 2",
             statements: ["-- it's; a comment\nSELECT 1", "SELECT 2"]),
        Case(name: "dashes inside a string", script: "SELECT '--;'; SELECT 2",
             statements: ["SELECT '--;'", "SELECT 2"]),
        Case(name: "nested block comments", script: "SELECT /* a /* b; */ c; */ 1; SELECT 2",
             statements: ["SELECT /* a /* b; */ c; */ 1", "SELECT 2"]),
        Case(name: "quote inside a block comment", script: "/* don't */ SELECT 1; SELECT 2",
             statements: ["/* don't */ SELECT 1", "SELECT 2"]),
        Case(name: "comment-only statements are dropped",
             script: "-- header\n;\n/* nothing */;\nSELECT 1;\n-- trailing comment\n",
             statements: ["SELECT 1"]),
        Case(name: "empty statements are dropped", script: " ; ;\n;SELECT 1;;", statements: ["SELECT 1"]),
        Case(name: "only comments and whitespace", script: "-- a\n/* b */\n  \n", statements: []),
        Case(name: "non-ascii text survives", script: "INSERT INTO t VALUES ('naïve ✓;'); SELECT 'ü'",
             statements: ["INSERT INTO t VALUES ('naïve ✓;')", "SELECT 'ü'"]),
    ]

    @Test("splits into the right statements", arguments: cases)
    func splits(_ testCase: Case) throws {
        #expect(try SQLScript.statements(in: testCase.script) == testCase.statements)
    }

    /// Unterminated constructs and the line their message must name.
    static let unterminated: [(script: String, what: String, line: Int)] = [
        ("SELECT 'abc", "string literal", 1),
        ("SELECT 1;\nSELECT 'it''s", "string literal", 2),
        (#"SELECT E'abc\'"#, "string literal", 1),
        ("SELECT 1;\n\nSELECT \"abc", "quoted identifier", 3),
        ("SELECT $$abc;", "dollar-quoted string", 1),
        ("SELECT $fn$ abc $$ ;", "dollar-quoted string", 1),
        ("SELECT 1; /* abc", "block comment", 1),
        ("SELECT 1;\n/* a /* b */ still open", "block comment", 2),
    ]

    @Test("an unterminated construct is a sql_syntax error naming its line", arguments: unterminated)
    func unterminatedFails(_ script: String, _ what: String, _ line: Int) throws {
        let error = try #require(throws: StoreError.self) { try SQLScript.statements(in: script) }
        #expect(error.code == "sql_syntax")
        #expect(error.message.contains("unterminated \(what)"))
        #expect(error.message.contains("line \(line)"))
    }

    @Test("the initial schema splits into statements that each hold code")
    func initialSchema() throws {
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        let initial = try #require(migrations.first)
        let statements = try SQLScript.statements(in: initial.sql)
        #expect(statements.count > 10)
        #expect(statements.allSatisfy { !$0.isEmpty && !$0.hasSuffix(";") })
        #expect(statements.contains { $0.hasPrefix("-- Airlock's first schema") && $0.contains("CREATE TABLE data_keys") })
        #expect(statements.contains { $0.contains("CREATE TABLE audit_events") })
    }
}
