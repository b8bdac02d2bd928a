import AirlockCore
import AirlockPolicy

extension AirlockConfiguration {
    /// The longest `audit.checkpoint_interval` (one day).
    static let longestCheckpointInterval: Int64 = 86_400

    /// `audit.chain_key_file`, `audit.checkpoint_key_file` (read at once: a file others may read, or one that holds no keys, stops start-up)
    /// and `audit.checkpoint_interval`.
    mutating func loadAuditCheckpoints(reader: inout ConfigurationReader) throws(ConfigurationError) {
        if let path = try reader.string("audit.chain_key_file") {
            guard !path.isEmpty else { throw reader.invalid("audit.chain_key_file") }
            do {
                auditChainKey = try AuditChainKey.load(fromFile: path)
            } catch {
                throw ConfigurationError(key: "audit.chain_key_file", message: error.message)
            }
        }
        if let path = try reader.string("audit.checkpoint_key_file") {
            guard !path.isEmpty else { throw reader.invalid("audit.checkpoint_key_file") }
            do {
                auditCheckpointKeys = try AuditCheckpointKeys.load(fromFile: path)
            } catch {
                throw ConfigurationError(key: "audit.checkpoint_key_file", message: error.message)
            }
        }
        if let text = try reader.string("audit.checkpoint_interval") {
            guard case .success(let seconds) = DurationText.parse(text.trimmingCharacters(in: .whitespaces)),
                  (1...Self.longestCheckpointInterval).contains(seconds)
            else { throw reader.invalid("audit.checkpoint_interval") }
            auditCheckpointInterval = .seconds(seconds)
        }
    }
}
