/// Where a sealed secret belongs: the table, row and column that store it.
///
/// The context is authenticated (as AES-GCM associated data) but not stored in
/// the ciphertext, so a ciphertext copied into another row, column or table fails
/// to open.
public struct EncryptionContext: Sendable, Hashable, CustomStringConvertible {
    /// The table that stores the secret, for example `resources`.
    public let table: String
    /// The row's key, for example the row's UUID as a string.
    public let row: String
    /// The column that stores the secret, for example `admin_password`.
    public let column: String

    /// Creates a context for a secret stored in `table`.`column` of row `row`.
    public init(table: String, row: String, column: String) {
        self.table = table
        self.row = row
        self.column = column
    }

    /// The associated-data bytes: the tag `airlock secret context v1` and a zero
    /// byte, then each of table, row and column as a 4-byte big-endian UTF-8
    /// length followed by its UTF-8 bytes. Length prefixes make the encoding
    /// unambiguous (`("ab", "c")` and `("a", "bc")` differ).
    public var associatedData: [UInt8] {
        var bytes = Array("airlock secret context v1".utf8)
        bytes.append(0)
        for field in [table, row, column] {
            let utf8 = Array(field.utf8)
            let length = UInt32(truncatingIfNeeded: utf8.count)
            bytes.append(contentsOf: [
                UInt8(truncatingIfNeeded: length >> 24),
                UInt8(truncatingIfNeeded: length >> 16),
                UInt8(truncatingIfNeeded: length >> 8),
                UInt8(truncatingIfNeeded: length),
            ])
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }

    /// `table.column[row]`.
    public var description: String {
        "\(table).\(column)[\(row)]"
    }
}
