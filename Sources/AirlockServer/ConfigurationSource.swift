import AirlockCore
import Foundation

/// The raw settings of one start-up: a JSON config file, flattened to dotted keys, overlaid by environment
/// variables (`AIRLOCK_` + the key in upper case with `.` as `_`, e.g. `AIRLOCK_DATABASE_URL`).
///
/// Parsing is AirlockCore's strict JSON parser (a key repeated inside one object is an error, where Foundation's
/// would silently keep the first); this type only flattens, overlays and remembers where each value came from, so
/// an error can say "from AIRLOCK_LOG_LEVEL" or "in /etc/airlock.json". A setting may be written flat
/// (`"database.url"`) or nested (`"database": {"url"}`), but only once per file: both spellings at once are refused,
/// naming both, since which one won would depend on dictionary order.
public struct ConfigurationSource: Sendable {
    /// Where a raw value came from.
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        case file(String)
        case environment(String)

        public var description: String {
            switch self {
            case .file(let path): "in \(path)"
            case .environment(let name): "from \(name)"
            }
        }
    }

    /// A raw value: a JSON scalar or list from the file, or a string from the environment.
    public enum Raw: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case list([String])
    }

    private(set) var values: [String: (raw: Raw, origin: Origin)] = [:]
    /// How each key read from the file was written: the member names from the top of the file down.
    private var spellings: [String: [String]] = [:]
    /// The environment, kept for secrets that are read only from the environment.
    public let environment: [String: String]

    /// Reads `file` (if given) and overlays `environment`. Unknown keys in the file are errors; only
    /// environment variables named by a known setting are read.
    public init(file: String?, environment: [String: String], settings: [Setting]) throws(ConfigurationError) {
        self.environment = environment
        let known = Dictionary(uniqueKeysWithValues: settings.map { ($0.key, $0) })
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigurationError(key: "config", message: "cannot read the config file `\(file)`")
            }
            let parsed: JSONValue
            do {
                parsed = try JSONValue.parse(data)
            } catch DecodingError.dataCorrupted(let context) {
                throw ConfigurationError(
                    key: "config", message: "`\(file)` must hold one valid json object (\(context.debugDescription))")
            } catch {
                throw ConfigurationError(key: "config", message: "`\(file)` must hold one valid json object")
            }
            guard case .object(let root) = parsed else {
                throw ConfigurationError(key: "config", message: "`\(file)` must hold one valid json object")
            }
            try flatten(root, prefix: "", path: [], file: file, known: known)
        }
        for setting in settings {
            if let value = environment[setting.environmentName] {
                values[setting.key] = (.string(value), .environment(setting.environmentName))
            }
        }
    }

    /// The raw value of `key` and where it came from, if set.
    public func value(_ key: String) -> (raw: Raw, origin: Origin)? { values[key] }

    private mutating func flatten(
        _ object: [String: JSONValue], prefix: String, path: [String], file: String, known: [String: Setting]
    ) throws(ConfigurationError) {
        // Sorted, so that of several problems the same one is reported on every run.
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let key = prefix.isEmpty ? name : "\(prefix).\(name)"
            let spelling = path + [name]
            if case .object(let nested) = value, known[key] == nil {
                try flatten(nested, prefix: key, path: spelling, file: file, known: known)
                continue
            }
            guard known[key] != nil else {
                let suggestion = Self.nearest(key, in: Array(known.keys)).map { " (did you mean `\($0)`?)" } ?? ""
                throw ConfigurationError(key: key, message: "unknown setting in \(file)\(suggestion)")
            }
            if let earlier = spellings[key] {
                let both = [earlier, spelling].map(Self.describe).sorted()
                throw ConfigurationError(
                    key: key,
                    message: "given twice in \(file), as `\(both[0])` and as `\(both[1])`: keep one")
            }
            spellings[key] = spelling
            switch value {
            case .null: continue
            case .string(let string): values[key] = (.string(string), .file(file))
            case .int(let number): values[key] = (.number(Double(number)), .file(file))
            case .double(let number): values[key] = (.number(number), .file(file))
            case .bool(let bool): values[key] = (.bool(bool), .file(file))
            case .array(let items):
                var strings: [String] = []
                for item in items {
                    guard case .string(let string) = item else {
                        throw ConfigurationError(key: key, message: "expected a list of strings in \(file)")
                    }
                    strings.append(string)
                }
                values[key] = (.list(strings), .file(file))
            case .object:
                throw ConfigurationError(key: key, message: "expected a single value in \(file), not an object")
            }
        }
    }

    /// A key as it was written in the file: `"database.url"` or `"database": {"url"}`.
    static func describe(_ spelling: [String]) -> String {
        guard let last = spelling.last else { return "" }
        return spelling.dropLast().reversed().reduce("\"\(last)\"") { inner, name in "\"\(name)\": {\(inner)}" }
    }

    static func nearest(_ key: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= max(2, key.count / 4) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
