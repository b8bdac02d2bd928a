import Foundation

/// Typed reads of raw settings, each failure naming the setting, what it expects and where the value came from.
struct ConfigurationReader {
    let source: ConfigurationSource
    let overrides: [String: String]
    private let settings = Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.key, $0) })

    init(source: ConfigurationSource, overrides: [String: String]) {
        self.source = source
        self.overrides = overrides
    }

    private func raw(_ key: String) -> (ConfigurationSource.Raw, String)? {
        if let flag = overrides[key] { return (.string(flag), "from the command line") }
        return source.value(key).map { ($0.raw, $0.origin.description) }
    }

    func origin(_ key: String) -> String { raw(key)?.1 ?? "default" }

    func invalid(_ key: String) -> ConfigurationError {
        ConfigurationError(key: key, message: "expected \(settings[key]?.expected ?? "a valid value") (\(origin(key)))")
    }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let (raw, _) = raw(key) else { return nil }
        guard case .string(let value) = raw else { throw invalid(key) }
        return value
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let (raw, _) = raw(key) else { return nil }
        let value: Int?
        switch raw {
        case .number(let number): value = number == number.rounded() && abs(number) < 1e15 ? Int(number) : nil
        case .string(let string): value = Int(string.trimmingCharacters(in: .whitespaces))
        default: value = nil
        }
        guard let value, range.contains(value) else { throw invalid(key) }
        return value
    }

    /// `true` or `false` (a JSON boolean, or the word in the environment or on the command line).
    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let (raw, _) = raw(key) else { return nil }
        switch raw {
        case .bool(let value): return value
        case .string(let string) where string.trimmingCharacters(in: .whitespaces) == "true": return true
        case .string(let string) where string.trimmingCharacters(in: .whitespaces) == "false": return false
        default: throw invalid(key)
        }
    }

    mutating func list(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let (raw, _) = raw(key) else { return nil }
        switch raw {
        case .list(let items): return items
        case .string(let string): return string.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        default: throw invalid(key)
        }
    }
}
