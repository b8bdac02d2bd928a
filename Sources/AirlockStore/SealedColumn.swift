import AirlockCore

/// A column that stores envelope-encrypted secrets (``SealedSecret`` bytes), and the generated column beside it
/// that names the data key sealing each one (migration 0009: a foreign key to `data_keys`, so a data key that
/// still seals a secret cannot be deleted).
///
/// ``all`` is the one list of sealed columns: key rotation re-encrypts each of them, `airlock keys status` counts
/// them, and a data key is destroyed only when none of them uses it. A new sealed column is added here and in a
/// migration (its key column and foreign key), nowhere else.
public struct SealedColumn: Sendable, Hashable, CustomStringConvertible {
    /// The table, for example `resources`.
    public let table: String
    /// The row's key column, whose text form is the ``EncryptionContext/row`` of its secret.
    public let idColumn: String
    /// The PostgreSQL type of ``idColumn`` (a row id travels as text and is cast back to it).
    let idType: String
    /// The `bytea` column holding the sealed secret (nullable or not).
    public let secretColumn: String
    /// The generated `uuid` column naming the data key that sealed ``secretColumn``.
    public let keyColumn: String

    /// `resources.admin_secret`: the admin password of a PostgreSQL resource, as last configured.
    public static let resourceAdminSecret = SealedColumn(
        table: "resources", idColumn: "id", idType: "text", secretColumn: "admin_secret", keyColumn: "admin_secret_key")

    /// `webhook_endpoints.secret`: an endpoint's `whsec_…` signing key (row: the endpoint id as a lowercase UUID).
    public static let webhookSecret = SealedColumn(
        table: "webhook_endpoints", idColumn: "id", idType: "uuid", secretColumn: "secret", keyColumn: "secret_key")

    /// `webhook_endpoints.previous_secret`: the key an endpoint signed with before its last rotation, kept (and
    /// still used) until the rotation window ends.
    public static let webhookPreviousSecret = SealedColumn(
        table: "webhook_endpoints", idColumn: "id", idType: "uuid", secretColumn: "previous_secret",
        keyColumn: "previous_secret_key")

    /// Every sealed column of the schema.
    public static let all: [SealedColumn] = [resourceAdminSecret, webhookSecret, webhookPreviousSecret]

    /// Where the secret of row `row` (the text form of its id) is sealed.
    public func context(row: String) -> EncryptionContext {
        EncryptionContext(table: table, row: row, column: secretColumn)
    }

    /// `table.column`.
    public var description: String { "\(table).\(secretColumn)" }

    // The names below go into SQL unbound. They come only from the constants above, never from input, and each is
    // a plain lower-case identifier, so double quotes are all the quoting they need.
    var sqlTable: String { "\"\(table)\"" }
    var sqlID: String { "\"\(idColumn)\"" }
    var sqlSecret: String { "\"\(secretColumn)\"" }
    var sqlKey: String { "\"\(keyColumn)\"" }
}
