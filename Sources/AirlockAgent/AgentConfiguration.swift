import AirlockCore
import AirlockPolicy
import Foundation

/// What `airlock agent` keeps, read from its JSON configuration file, strictly: an unknown key, a wrong type, a
/// duration that does not parse or two outputs writing one file are errors naming the key and the file, before
/// anything is asked of the broker.
///
/// ```json
/// {"broker": "https://airlock.internal:8420",
///  "auth": {"token_file": "/var/run/secrets/tokens/airlock"},
///  "listen": "127.0.0.1:8421",
///  "rotation": {"grace": "30s", "lead": "10s"},
///  "revoke_on_exit": true,
///  "application": {"on_rotation": "restart", "signal": "SIGHUP"},
///  "credentials": [{"name": "orders", "resource": "orders-db", "role": "readonly", "ttl": "1h",
///                   "reason": "orders-api", "env_prefix": "",
///                   "outputs": [{"format": "env", "path": "/run/airlock/orders.env"}],
///                   "on_change": {"command": ["/usr/bin/systemctl", "reload", "orders"]}}]}
/// ```
public struct AgentConfiguration: Sendable, Hashable {
    /// How the agent proves who it is to the broker.
    public enum Authentication: Sendable, Hashable {
        /// A workload JWT (a projected Kubernetes service-account token) or an `alk_` service token in a file, read
        /// again before every call, so a rotated token is used as soon as it is written.
        case tokenFile(String)
        /// A token in an environment variable of the agent.
        case tokenEnvironment(String)
    }

    /// One file the agent keeps up to date.
    public struct Output: Sendable, Hashable {
        public enum Format: String, Sendable, Hashable, CaseIterable {
            /// `KEY=value` lines (libpq's `PG*` variables, or `AIRLOCK_CREDENTIAL_TOKEN`): for `EnvironmentFile=`
            /// or `set -a; . FILE`.
            case env
            /// The credential as the broker's JSON.
            case json
            /// One line: the connection URL, or the token.
            case dsn
            /// One `.pgpass` line (`host:port:database:username:password`), for `PGPASSFILE`.
            case pgpass
            /// No secret: `{name, state, lease_id, username, expires_at, message, updated_at}`, so the application
            /// can see a refusal or an end coming.
            case status
        }

        public var format: Format
        public var path: String
    }

    /// What the agent runs or signals after the credential changes (rotation, refusal, end).
    public enum ChangeHook: Sendable, Hashable {
        /// A command (no shell), with `AIRLOCK_AGENT_EVENT` (`rotated`, `refused`, `ended`) and
        /// `AIRLOCK_CREDENTIAL_NAME` in its environment.
        case command([String])
        /// A signal to the process whose id is in `pidFile`.
        case signal(Int32, pidFile: String)
    }

    public struct Credential: Sendable, Hashable {
        public var name: String
        public var resource: String
        public var role: String
        public var ttlSeconds: Int64
        public var reason: String
        /// Prepended to the variable names given to `-- COMMAND` (`ORDERS_` → `ORDERS_PGUSER`).
        public var environmentPrefix: String
        public var outputs: [Output]
        public var onChange: ChangeHook?

        public init(
            name: String, resource: String, role: String, ttlSeconds: Int64, reason: String, environmentPrefix: String = "",
            outputs: [Output] = [], onChange: ChangeHook? = nil
        ) {
            self.name = name
            self.resource = resource
            self.role = role
            self.ttlSeconds = ttlSeconds
            self.reason = reason
            self.environmentPrefix = environmentPrefix
            self.outputs = outputs
            self.onChange = onChange
        }
    }

    /// What `airlock agent -- COMMAND` does to the command when a credential is rotated.
    public enum ApplicationRotation: Sendable, Hashable {
        /// Stop it (SIGTERM, then SIGKILL after the stop timeout) and start it again with the new environment.
        case restart
        /// Send it a signal (it re-reads the output files).
        case signal(Int32)
        /// Nothing (it re-reads the output files by itself).
        case none
    }

    public var broker: String
    public var authentication: Authentication
    /// Where `/healthz` and `/metrics` are served; nil: nowhere.
    public var listen: ListenAddress?
    public var graceSeconds: TimeInterval
    public var leadSeconds: TimeInterval
    public var revokeOnExit: Bool
    public var applicationRotation: ApplicationRotation
    /// How long a stopped command has before SIGKILL.
    public var stopTimeoutSeconds: TimeInterval
    public var credentials: [Credential]

    public struct ListenAddress: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Reads and checks the file at `path`.
    public static func load(path: String) throws(AgentConfigurationError) -> AgentConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentConfigurationError(path: path, message: "cannot read the file")
        }
        guard data.count <= 1 << 20 else { throw AgentConfigurationError(path: path, message: "larger than 1 MiB") }
        return try parse(data, path: path)
    }

    /// Parses a configuration; `path` names it in errors.
    public static func parse(_ data: Data, path: String) throws(AgentConfigurationError) -> AgentConfiguration {
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw AgentConfigurationError(path: path, message: "not valid JSON: \(error)")
        }
        var reader = Reader(path: path)
        return try reader.configuration(json)
    }
}

/// A configuration that cannot be used: the file, the key, and what is wrong.
public struct AgentConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// Reads the JSON strictly, naming keys by their place (`credentials[0].outputs[1].path`).
private struct Reader {
    let path: String

    func fail(_ message: String) -> AgentConfigurationError { AgentConfigurationError(path: path, message: message) }

    func object(_ value: JSONValue?, at key: String, allowed: Set<String>) throws(AgentConfigurationError) -> [String: JSONValue] {
        guard let object = value?.objectValue else { throw fail("`\(key)` must be an object") }
        if let unknown = object.keys.filter({ !allowed.contains($0) }).sorted().first {
            let place = key == "(top level)" ? "" : " in `\(key)`"
            throw fail("unknown key `\(unknown)`\(place) (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
        return object
    }

    func string(_ object: [String: JSONValue], _ key: String, at place: String, required: Bool = true) throws(AgentConfigurationError) -> String? {
        guard let value = object[key], !value.isNull else {
            if required { throw fail("`\(place)\(key)` is required") }
            return nil
        }
        guard let text = value.stringValue else { throw fail("`\(place)\(key)` must be a string") }
        return text
    }

    func duration(_ object: [String: JSONValue], _ key: String, at place: String, default fallback: Int64?) throws(AgentConfigurationError) -> Int64 {
        guard let text = try string(object, key, at: place, required: fallback == nil) else { return fallback ?? 0 }
        guard case .success(let seconds) = DurationText.parse(text) else {
            throw fail("`\(place)\(key)` `\(text)` is not a duration such as 30s, 15m, 1h or 1h30m")
        }
        return seconds
    }

    func bool(_ object: [String: JSONValue], _ key: String, default fallback: Bool) throws(AgentConfigurationError) -> Bool {
        guard let value = object[key], !value.isNull else { return fallback }
        guard let flag = value.boolValue else { throw fail("`\(key)` must be true or false") }
        return flag
    }

    mutating func configuration(_ json: JSONValue) throws(AgentConfigurationError) -> AgentConfiguration {
        let top = try object(json, at: "(top level)", allowed: [
            "broker", "auth", "listen", "rotation", "revoke_on_exit", "application", "credentials",
        ])
        let broker = try string(top, "broker", at: "") ?? ""
        do {
            _ = try BrokerAddress(broker)
        } catch {
            throw fail("`broker`: \(error.description)")
        }
        let auth = try object(top["auth"], at: "auth", allowed: ["token_file", "token_env"])
        let authentication: AgentConfiguration.Authentication
        switch (try string(auth, "token_file", at: "auth.", required: false),
                try string(auth, "token_env", at: "auth.", required: false)) {
        case (let file?, nil) where !file.isEmpty: authentication = .tokenFile(file)
        case (nil, let name?) where !name.isEmpty: authentication = .tokenEnvironment(name)
        default: throw fail("`auth` needs exactly one of `token_file` (a workload JWT or `alk_` token) and `token_env`")
        }
        var listen: AgentConfiguration.ListenAddress?
        if let text = try string(top, "listen", at: "", required: false) {
            listen = try listenAddress(text)
        }
        let rotation = try object(top["rotation"] ?? .object([:]), at: "rotation", allowed: ["grace", "lead"])
        let grace = try duration(rotation, "grace", at: "rotation.", default: 30)
        let lead = try duration(rotation, "lead", at: "rotation.", default: 10)
        let application = try object(
            top["application"] ?? .object([:]), at: "application", allowed: ["on_rotation", "signal", "stop_timeout"])
        let applicationRotation: AgentConfiguration.ApplicationRotation
        switch try string(application, "on_rotation", at: "application.", required: false) ?? "restart" {
        case "restart": applicationRotation = .restart
        case "none": applicationRotation = .none
        case "signal":
            let name = try string(application, "signal", at: "application.", required: false) ?? "SIGHUP"
            applicationRotation = .signal(try signal(name, at: "application.signal"))
        case let other:
            throw fail("`application.on_rotation` `\(other)` must be restart, signal or none")
        }
        let stopTimeout = try duration(application, "stop_timeout", at: "application.", default: 10)
        guard let list = top["credentials"]?.arrayValue, !list.isEmpty else {
            throw fail("`credentials` must list at least one credential")
        }
        guard list.count <= 64 else { throw fail("`credentials` lists more than 64 credentials") }
        var credentials: [AgentConfiguration.Credential] = []
        var files: [String: String] = [:]
        for (index, item) in list.enumerated() {
            let credential = try self.credential(item, at: "credentials[\(index)]")
            if credentials.contains(where: { $0.name == credential.name }) {
                throw fail("two credentials are named `\(credential.name)`")
            }
            for output in credential.outputs {
                let key = URL(fileURLWithPath: output.path).standardizedFileURL.path
                if let other = files[key] { throw fail("`\(output.path)` is written by both `\(other)` and `\(credential.name)`") }
                files[key] = credential.name
            }
            credentials.append(credential)
        }
        let unprefixed = credentials.filter { $0.environmentPrefix.isEmpty }.map(\.name)
        if unprefixed.count > 1 {
            throw fail("credentials \(unprefixed.map { "`\($0)`" }.joined(separator: " and ")) would give `-- COMMAND` the same "
                + "variables: give all but one an `env_prefix`")
        }
        return AgentConfiguration(
            broker: broker, authentication: authentication, listen: listen, graceSeconds: TimeInterval(grace),
            leadSeconds: TimeInterval(lead), revokeOnExit: try bool(top, "revoke_on_exit", default: true),
            applicationRotation: applicationRotation, stopTimeoutSeconds: TimeInterval(stopTimeout),
            credentials: credentials)
    }

    func credential(_ json: JSONValue, at place: String) throws(AgentConfigurationError) -> AgentConfiguration.Credential {
        let fields = try object(json, at: place, allowed: [
            "name", "resource", "role", "ttl", "reason", "env_prefix", "outputs", "on_change",
        ])
        let dotted = place + "."
        let resource = try string(fields, "resource", at: dotted) ?? ""
        let name = try string(fields, "name", at: dotted, required: false) ?? resource
        guard Self.isName(name) else {
            throw fail("`\(dotted)name` `\(name)` must be 1 to 64 letters, digits, `-`, `_` or `.`")
        }
        let role = try string(fields, "role", at: dotted) ?? ""
        guard !resource.isEmpty, !role.isEmpty else { throw fail("`\(dotted)resource` and `\(dotted)role` must not be empty") }
        let ttl = try duration(fields, "ttl", at: dotted, default: nil)
        guard ttl >= 2 else { throw fail("`\(dotted)ttl` must be at least 2s") }
        let reason = try string(fields, "reason", at: dotted, required: false) ?? "airlock agent: \(name)"
        guard !reason.isEmpty, reason.utf8.count <= 1024 else { throw fail("`\(dotted)reason` must be 1 to 1024 bytes") }
        let prefix = try string(fields, "env_prefix", at: dotted, required: false) ?? ""
        guard prefix.isEmpty || Self.isPlain(prefix, also: "_")
                && !prefix.hasPrefix("PG") && prefix.first?.isNumber != true else {
            throw fail("`\(dotted)env_prefix` `\(prefix)` must be letters, digits and `_`, not starting with a digit or `PG`")
        }
        var outputs: [AgentConfiguration.Output] = []
        for (index, item) in (fields["outputs"]?.arrayValue ?? []).enumerated() {
            let at = "\(dotted)outputs[\(index)]"
            let output = try object(item, at: at, allowed: ["format", "path"])
            let text = try string(output, "format", at: at + ".") ?? ""
            guard let format = AgentConfiguration.Output.Format(rawValue: text) else {
                throw fail("`\(at).format` `\(text)` must be one of: "
                    + AgentConfiguration.Output.Format.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let path = try string(output, "path", at: at + ".") ?? ""
            guard path.hasPrefix("/"), !path.hasSuffix("/"), !path.contains("\u{0}") else {
                throw fail("`\(at).path` `\(path)` must be an absolute file path")
            }
            outputs.append(.init(format: format, path: path))
        }
        if fields["outputs"] != nil, fields["outputs"]?.arrayValue == nil { throw fail("`\(dotted)outputs` must be a list") }
        var hook: AgentConfiguration.ChangeHook?
        if let value = fields["on_change"], !value.isNull {
            let at = "\(dotted)on_change"
            let change = try object(value, at: at, allowed: ["command", "signal", "pid_file"])
            if let command = change["command"] {
                guard change["signal"] == nil, change["pid_file"] == nil else {
                    throw fail("`\(at)` takes either `command` or `signal` with `pid_file`")
                }
                guard let words = command.arrayValue?.compactMap(\.stringValue), !words.isEmpty,
                      words.count == command.arrayValue?.count, !words[0].isEmpty else {
                    throw fail("`\(at).command` must be a non-empty list of strings (no shell is used)")
                }
                hook = .command(words)
            } else {
                let name = try string(change, "signal", at: at + ".") ?? ""
                let pidFile = try string(change, "pid_file", at: at + ".") ?? ""
                guard pidFile.hasPrefix("/") else { throw fail("`\(at).pid_file` must be an absolute path") }
                hook = .signal(try signal(name, at: at + ".signal"), pidFile: pidFile)
            }
        }
        return .init(
            name: name, resource: resource, role: role, ttlSeconds: ttl, reason: reason, environmentPrefix: prefix,
            outputs: outputs, onChange: hook)
    }

    func listenAddress(_ text: String) throws(AgentConfigurationError) -> AgentConfiguration.ListenAddress {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw fail("`listen` `\(text)` must be HOST:PORT, such as 127.0.0.1:8421")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw fail("`listen` `\(text)` must name a host, such as 127.0.0.1:8421") }
        return .init(host: host, port: port)
    }

    func signal(_ name: String, at key: String) throws(AgentConfigurationError) -> Int32 {
        let bare = name.uppercased().hasPrefix("SIG") ? String(name.uppercased().dropFirst(3)) : name.uppercased()
        let known: [String: Int32] = ["HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "TERM": SIGTERM, "INT": SIGINT]
        guard let number = known[bare] else { throw fail("`\(key)` `\(name)` must be one of SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT") }
        return number
    }

    /// Whether `text` is ASCII letters, digits and the characters of `also` only.
    static func isPlain(_ text: String, also: String) -> Bool {
        text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || also.unicodeScalars.contains($0))
        }
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && isPlain(text, also: "-_.")
    }
}
