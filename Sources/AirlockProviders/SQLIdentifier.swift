import AirlockCore

/// The one place where SQL identifiers that cannot be bound (role, schema, table and database names) are checked
/// and quoted before they enter a statement.
///
/// Only names matching `^[a-z_][a-z0-9_]{0,62}$` are accepted: lower-case ASCII letters, digits and `_`, not
/// starting with a digit, 1 to 63 bytes (PostgreSQL's `NAMEDATALEN - 1`). Anything else, including upper case,
/// quotes, spaces, `;`, non-ASCII letters and the empty string, is rejected rather than escaped.
public enum SQLIdentifier {
    /// The longest identifier PostgreSQL keeps without truncating it.
    public static let maximumLength = 63

    /// Whether `name` is an identifier Airlock will put into SQL.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength else { return false }
        guard isLowerLetter(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.allSatisfy { isLowerLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// `name` validated and wrapped in double quotes, ready to be placed in a statement.
    ///
    /// - Throws: ``ProviderError`` with code `invalid_identifier` when `name` is not a valid identifier. The
    ///   message does not repeat the rejected text (it may be hostile or secret); callers say what it was.
    public static func quoted(_ name: String) throws(ProviderError) -> String {
        guard isValid(name) else {
            throw ProviderError(
                code: "invalid_identifier",
                message: "an SQL identifier must match ^[a-z_][a-z0-9_]{0,62}$ (\(name.utf8.count) bytes given)")
        }
        return "\"\(name)\""
    }

    private static func isLowerLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
