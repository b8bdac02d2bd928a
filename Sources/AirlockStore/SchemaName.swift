/// The one schema of the broker's database that holds Airlock's tables, `schema_migrations` included
/// (`database.schema`, default `public`).
///
/// Every pool connection starts with `search_path` set to this schema alone, and the migration runner creates,
/// reads and writes `schema_migrations` qualified with it. Without that, PostgreSQL's default search path
/// (`"$user", public`) put the tables of a role owning a schema named after itself in that schema while the runner
/// looked for `public.schema_migrations`, so every run applied the first migration again.
///
/// Only names matching `^[a-z_][a-z0-9_]{0,62}$` and not starting with `pg_` (reserved for PostgreSQL's own
/// schemas) are accepted, so the name is safe to quote into a statement and means one schema everywhere.
public struct SchemaName: Sendable, Hashable, CustomStringConvertible {
    /// The schema's name, validated.
    public let name: String

    /// The default: PostgreSQL's `public` schema.
    public static let `public` = SchemaName(validated: "public")

    /// Validates `name`.
    ///
    /// - Throws: ``StoreError`` with code `invalid_schema_name`; the message does not echo the rejected text.
    public init(_ name: String) throws(StoreError) {
        guard Self.isValid(name) else {
            throw StoreError(
                code: "invalid_schema_name",
                message: "a schema name must match ^[a-z_][a-z0-9_]{0,62}$ and not start with pg_ (\(name.utf8.count) bytes given)")
        }
        self.name = name
    }

    private init(validated name: String) {
        self.name = name
    }

    /// Whether `name` is a schema name Airlock accepts.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63, !name.hasPrefix("pg_") else { return false }
        let lower = UInt8(ascii: "a")...UInt8(ascii: "z"), digit = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard lower.contains(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.allSatisfy { lower.contains($0) || digit.contains($0) || $0 == UInt8(ascii: "_") }
    }

    /// The name in double quotes, ready for a statement (validation already excluded every character that would
    /// need escaping).
    public var quoted: String { "\"\(name)\"" }

    /// `table` qualified with this schema, e.g. `"public".schema_migrations`. `table` must be a fixed name from
    /// Airlock's own code, never input.
    public func qualified(_ table: String) -> String { "\(quoted).\(table)" }

    public var description: String { name }
}
