import Foundation

/// The raw settings of one start-up: a JSON config file, flattened to dotted keys, overlaid by environment
/// variables (`AIRLOCK_` + the key in upper case with `.` as `_`, e.g. `AIRLOCK_DATABASE_URL`).
///
/// Parsing is Foundation's JSON parser; this type only flattens, overlays and remembers where each value came
/// from, so an error can say "from AIRLOCK_LOG_LEVEL" or "in /etc/airlock.json".
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
            let root: [String: FileJSON]
            do {
                root = try JSONDecoder().decode([String: FileJSON].self, from: data)
            } catch {
                throw ConfigurationError(key: "config", message: "`\(file)` must hold one valid json object")
            }
            try flatten(root, prefix: "", file: file, known: known)
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
        _ object: [String: FileJSON], prefix: String, file: String, known: [String: Setting]
    ) throws(ConfigurationError) {
        for (name, value) in object {
            let key = prefix.isEmpty ? name : "\(prefix).\(name)"
            if case .object(let nested) = value, known[key] == nil {
                try flatten(nested, prefix: key, file: file, known: known)
                continue
            }
            guard known[key] != nil else {
                let suggestion = Self.nearest(key, in: Array(known.keys)).map { " (did you mean `\($0)`?)" } ?? ""
                throw ConfigurationError(key: key, message: "unknown setting in \(file)\(suggestion)")
            }
            switch value {
            case .null: continue
            case .string(let string): values[key] = (.string(string), .file(file))
            case .number(let number): values[key] = (.number(number), .file(file))
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

/// A JSON value as read from the config file (JSONDecoder keeps `true` and `1` apart, unlike NSNumber).
enum FileJSON: Decodable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([FileJSON]), object([String: FileJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let bool = try? container.decode(Bool.self) { self = .bool(bool) }
        else if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let string = try? container.decode(String.self) { self = .string(string) }
        else if let array = try? container.decode([FileJSON].self) { self = .array(array) }
        else { self = .object(try container.decode([String: FileJSON].self)) }
    }
}
