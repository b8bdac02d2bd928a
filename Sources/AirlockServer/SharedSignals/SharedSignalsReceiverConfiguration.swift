import AirlockBroker
import AirlockCore
import AirlockPolicy
import Foundation

/// The Shared Signals transmitters whose Security Event Tokens the broker takes at `POST /ssf/receive`
/// (`ssf.receiver.config_file`): for each, its issuer, where its signing keys are, the audiences its SETs must name,
/// the authorization token it presents, how its subjects map to principals, and what each event type becomes.
///
/// ```json
/// {"clock_skew_seconds": 60,
///  "transmitters": [{
///     "issuer": "https://idp.example.com", "jwks_url": "https://idp.example.com/oauth2/v1/keys",
///     "audiences": ["https://airlock.example.com/ssf"], "authorization_token_file": "/etc/airlock/ssf-idp.token",
///     "subject_issuer": "https://idp.example.com", "email_is_subject": false, "max_age_seconds": 3600,
///     "events": {"credential-change": {"severity": "low", "ttl": "1h"}, "session-revoked": {"ignore": true}}}]}
/// ```
public struct SharedSignalsReceiverConfiguration: Sendable {
    /// The trusted transmitters; a SET from any other issuer is `invalid_issuer`.
    public var transmitters: [TransmitterConfiguration]
    /// How far a SET's `iat` may lie in the future, in seconds (default 60).
    public var clockSkewSeconds: Int

    /// Creates a configuration.
    public init(transmitters: [TransmitterConfiguration] = [], clockSkewSeconds: Int = 60) {
        self.transmitters = transmitters
        self.clockSkewSeconds = clockSkewSeconds
    }

    /// The transmitter whose issuer is `issuer`.
    public func transmitter(issuer: String) -> TransmitterConfiguration? {
        transmitters.first { Principal.sameID($0.issuer, issuer) }
    }

    /// Checks what the type system cannot: distinct issuers with audiences and https key urls, tokens long enough
    /// to resist guessing, lifetimes signals may have, signal names airlock does not compute itself.
    public func validate() throws(ConfigurationFileError) {
        guard (0...600).contains(clockSkewSeconds) else {
            throw ConfigurationFileError("`clock_skew_seconds` must be between 0 and 600")
        }
        var seen = Set<String>()
        for transmitter in transmitters {
            let name = transmitter.issuer
            guard !name.isEmpty else { throw ConfigurationFileError("a transmitter has an empty `issuer`") }
            guard seen.insert(name).inserted else {
                throw ConfigurationFileError("transmitter `\(name)` is configured twice")
            }
            guard !transmitter.audiences.isEmpty, !transmitter.audiences.contains("") else {
                throw ConfigurationFileError("transmitter `\(name)` needs at least one non-empty audience")
            }
            if case .url(let url) = transmitter.jwks {
                guard url.scheme?.lowercased() == "https", url.host?.isEmpty == false else {
                    throw ConfigurationFileError(
                        "transmitter `\(name)`: the jwks url `\(url.absoluteString)` must be an https url")
                }
            }
            guard transmitter.authorizationToken.utf8.count >= TransmitterConfiguration.minimumTokenBytes else {
                throw ConfigurationFileError(
                    "transmitter `\(name)`: the authorization token must be at least "
                        + "\(TransmitterConfiguration.minimumTokenBytes) bytes (e.g. `openssl rand -hex 32`)")
            }
            guard (60...604_800).contains(transmitter.maximumAgeSeconds) else {
                throw ConfigurationFileError("transmitter `\(name)`: `max_age_seconds` must be between 60 and 604800")
            }
            for (event, mapping) in transmitter.signals {
                guard let mapping else { continue }
                guard ExternalSignal.isWellFormedName(mapping.name) else {
                    throw ConfigurationFileError(
                        "transmitter `\(name)`, event `\(event.shortName)`: signal `\(mapping.name)` must match "
                            + "`^[a-z][a-z0-9_]{0,62}$`")
                }
                guard !Signals.reservedNames.contains(mapping.name) else {
                    throw ConfigurationFileError(
                        "transmitter `\(name)`, event `\(event.shortName)`: `\(mapping.name)` is a signal airlock "
                            + "computes itself")
                }
                guard (ExternalSignal.minimumTTLSeconds...ExternalSignal.maximumTTLSeconds).contains(mapping.ttlSeconds)
                else {
                    throw ConfigurationFileError(
                        "transmitter `\(name)`, event `\(event.shortName)`: `ttl` must be between 1m and 30d")
                }
            }
        }
    }

    /// Reads the configuration from `path` (unknown fields are refused), reading each transmitter's token from its
    /// file, then validates it. Relative paths are resolved against the file's directory.
    public static func load(fromFile path: String) throws(ConfigurationFileError) -> SharedSignalsReceiverConfiguration {
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : base.appendingPathComponent(file).path }
        let document: JSONValue
        do {
            document = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConfigurationFileError("cannot read `\(path)` as json")
        }
        var file = try ObjectReader(document, at: "the file")
        var configuration = SharedSignalsReceiverConfiguration(
            clockSkewSeconds: Int(try file.integer("clock_skew_seconds") ?? 60))
        for (index, entry) in (try file.array("transmitters") ?? []).enumerated() {
            var reader = try ObjectReader(entry, at: "transmitters[\(index)]")
            guard let issuer = try reader.string("issuer") else {
                throw ConfigurationFileError("transmitters[\(index)] needs `issuer`")
            }
            let jwks: IssuerConfiguration.KeySource
            var url = try reader.string("jwks_url")
            if url == nil { url = try reader.string("jwks_uri") }  // as SSF metadata names it
            switch (try reader.string("jwks_file"), url) {
            case (let file?, nil): jwks = .file(resolve(file))
            case (nil, let text?):
                guard let url = URL(string: text) else {
                    throw ConfigurationFileError("transmitter `\(issuer)`: `\(text)` is not a url")
                }
                jwks = .url(url)
            default:
                throw ConfigurationFileError("transmitter `\(issuer)` needs exactly one of `jwks_file` and `jwks_url`")
            }
            // The token from its own file (recommended), or inline in this file (which must then be kept as secret).
            let token: String
            switch (try reader.string("authorization_token_file"), try reader.string("authorization_token")) {
            case (let tokenFile?, nil):
                do {
                    token = String(decoding: try Data(contentsOf: URL(fileURLWithPath: resolve(tokenFile))), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw ConfigurationFileError("transmitter `\(issuer)`: cannot read `authorization_token_file`")
                }
            case (nil, let inline?):
                token = inline
            default:
                throw ConfigurationFileError(
                    "transmitter `\(issuer)` needs exactly one of `authorization_token_file` and `authorization_token`")
            }
            var audiences = try reader.strings("audiences") ?? []
            if let audience = try reader.string("audience") { audiences.append(audience) }
            var transmitter = TransmitterConfiguration(
                issuer: issuer, jwks: jwks, audiences: audiences, authorizationToken: token)
            transmitter.subjectIssuer = try reader.string("subject_issuer")
            transmitter.emailIsSubject = try reader.bool("email_is_subject") ?? false
            if let age = try reader.integer("max_age_seconds") { transmitter.maximumAgeSeconds = Int(age) }
            if let events = try reader.object("events") {
                for (shortName, value) in events.sorted(by: { $0.key < $1.key }) {
                    guard let event = SharedSignalEvent(shortName: shortName), let mapping = event.defaultSignal else {
                        throw ConfigurationFileError(
                            "transmitter `\(issuer)`: `events.\(shortName)` is not an event airlock acts on "
                                + "(\(TransmitterConfiguration.configurableEvents))")
                    }
                    var override = try ObjectReader(value, at: "events.\(shortName)")
                    if try override.bool("ignore") == true {
                        transmitter.signals[event] = .some(nil)
                        try override.finish()
                        continue
                    }
                    var changed = mapping
                    if let name = try override.string("signal") { changed.name = name }
                    if let text = try override.string("severity") {
                        guard let severity = Severity(rawValue: text) else {
                            throw ConfigurationFileError(
                                "transmitter `\(issuer)`: `events.\(shortName).severity` must be one of "
                                    + Severity.allCases.map(\.rawValue).joined(separator: ", "))
                        }
                        changed.severity = severity
                    }
                    if let text = try override.string("ttl") {
                        guard case .success(let seconds) = DurationText.parse(text) else {
                            throw ConfigurationFileError(
                                "transmitter `\(issuer)`: `events.\(shortName).ttl` is not a duration (e.g. 12h)")
                        }
                        changed.ttlSeconds = seconds
                    }
                    try override.finish()
                    transmitter.signals[event] = changed
                }
            }
            try reader.finish()
            configuration.transmitters.append(transmitter)
        }
        try file.finish()
        try configuration.validate()
        return configuration
    }

    /// Reads the members of one JSON object, refusing wrong types and, at ``finish()``, members never read.
    private struct ObjectReader {
        let members: [String: JSONValue]
        let location: String
        var read: Set<String> = []

        init(_ value: JSONValue, at location: String) throws(ConfigurationFileError) {
            guard case .object(let members) = value else { throw ConfigurationFileError("\(location) must be an object") }
            self.members = members
            self.location = location
        }

        private mutating func value(_ key: String) -> JSONValue? {
            read.insert(key)
            guard let value = members[key], !value.isNull else { return nil }
            return value
        }

        private func wrong(_ key: String, _ type: String) -> ConfigurationFileError {
            ConfigurationFileError("`\(key)` in \(location) must be \(type)")
        }

        mutating func string(_ key: String) throws(ConfigurationFileError) -> String? {
            guard let value = value(key) else { return nil }
            guard let text = value.stringValue else { throw wrong(key, "a string") }
            return text
        }

        mutating func bool(_ key: String) throws(ConfigurationFileError) -> Bool? {
            guard let value = value(key) else { return nil }
            guard let flag = value.boolValue else { throw wrong(key, "true or false") }
            return flag
        }

        mutating func integer(_ key: String) throws(ConfigurationFileError) -> Int64? {
            guard let value = value(key) else { return nil }
            guard case .int(let number) = value else { throw wrong(key, "an integer") }
            return number
        }

        mutating func array(_ key: String) throws(ConfigurationFileError) -> [JSONValue]? {
            guard let value = value(key) else { return nil }
            guard case .array(let elements) = value else { throw wrong(key, "an array") }
            return elements
        }

        mutating func strings(_ key: String) throws(ConfigurationFileError) -> [String]? {
            guard let elements = try array(key) else { return nil }
            var texts: [String] = []
            for element in elements {
                guard let text = element.stringValue else { throw wrong(key, "an array of strings") }
                texts.append(text)
            }
            return texts
        }

        mutating func object(_ key: String) throws(ConfigurationFileError) -> [String: JSONValue]? {
            guard let value = value(key) else { return nil }
            guard case .object(let members) = value else { throw wrong(key, "an object") }
            return members
        }

        func finish() throws(ConfigurationFileError) {
            if let unknown = members.keys.sorted().first(where: { !read.contains($0) }) {
                throw ConfigurationFileError("unknown field `\(unknown)` in \(location)")
            }
        }
    }
}

/// One Shared Signals transmitter the broker takes SETs from.
public struct TransmitterConfiguration: Sendable {
    /// Its issuer: the `iss` of its SETs.
    public var issuer: String
    /// Where its signing keys are (a JWKS file or an https url, read and cached as the login issuers' are).
    public var jwks: IssuerConfiguration.KeySource
    /// The `aud` values its SETs may name (at least one must match): how the transmitter names this broker.
    public var audiences: [String]
    /// What it sends as `Authorization: Bearer TOKEN`; compared in constant time, never logged.
    public var authorizationToken: String
    /// The login issuer whose subjects its `opaque` ids (and, with ``emailIsSubject``, its emails) name; nil: its
    /// own issuer when that is a login issuer too.
    public var subjectIssuer: String?
    /// Whether the subject issuer's `sub` is the person's email address, so an `email` subject names a principal.
    public var emailIsSubject = false
    /// How old (by `iat`) a SET may be when it arrives, in seconds (default 3600): an older one is refused, and a
    /// `jti` is remembered this long (plus the skew) to refuse a replay.
    public var maximumAgeSeconds = 3_600
    /// Changes to the signals its events become: a new mapping, or `.some(nil)` to ignore the event type.
    public var signals: [SharedSignalEvent: SharedSignalEvent.SignalMapping?] = [:]

    /// The shortest authorization token accepted, in bytes.
    public static let minimumTokenBytes = 32

    /// Creates a transmitter's configuration.
    public init(issuer: String, jwks: IssuerConfiguration.KeySource, audiences: [String], authorizationToken: String) {
        self.issuer = issuer
        self.jwks = jwks
        self.audiences = audiences
        self.authorizationToken = authorizationToken
    }

    /// The signal an event of type `event` from this transmitter becomes; nil when it becomes none.
    public func signal(for event: SharedSignalEvent) -> SharedSignalEvent.SignalMapping? {
        if let configured = signals[event] { return configured }
        return event.defaultSignal
    }

    /// The short names of the events a configuration may change, for error messages.
    static var configurableEvents: String {
        SharedSignalEvent.allCases.filter { $0.defaultSignal != nil }.map(\.shortName).joined(separator: ", ")
    }
}

/// A problem in a configuration file of its own (`ssf.receiver.config_file`): one line, no secret.
public struct ConfigurationFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension TransmitterConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The transmitter without its authorization token, so no log line or message that prints it can show it.
    public var description: String {
        "transmitter \(issuer) (audiences \(audiences.joined(separator: ", ")), authorization token …(redacted))"
    }

    /// The same as ``description``: never the token.
    public var debugDescription: String { description }

    /// Everything but the token, so `dump` cannot reveal it.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "issuer": issuer, "audiences": audiences, "subjectIssuer": subjectIssuer as Any,
            "emailIsSubject": emailIsSubject, "maximumAgeSeconds": maximumAgeSeconds,
            "authorizationTokenBytes": authorizationToken.utf8.count,
        ], displayStyle: .struct)
    }
}
