import AirlockBroker
import AirlockCore
import AirlockRisk
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// Airlock's validated configuration: defaults, then the config file, then `AIRLOCK_*` environment variables,
/// then command-line flags. A bad value stops start-up with a ``ConfigurationError`` naming the setting.
public struct AirlockConfiguration: Sendable {
    /// The format of log lines.
    public enum LogFormat: String, Sendable { case text, json }

    /// Where the HTTP server listens.
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 8420
    /// The broker's own database (nil if not configured: only commands that need it complain).
    public var databaseURL: DatabaseURL?
    public var databaseMaxConnections: Int = 20
    /// The schema of Airlock's tables (`database.schema`): every broker connection's `search_path`, and where
    /// `airlock migrate` creates and reads `schema_migrations`.
    public var databaseSchema: SchemaName = .public
    /// The migrations directory; `nil` finds `Migrations/` as ``Migration/locateDirectory(explicit:)`` says.
    public var migrationsDirectory: String?
    /// The policy directory (`DIR/*.airlock`). Default: ``defaultPoliciesDirectory``, never the working directory.
    public var policiesDirectory: String = AirlockConfiguration.defaultPoliciesDirectory

    /// The policy directory when `policies.dir` is not set: `share/airlock/Policies` beside the executable, or the
    /// `Policies/` of the checkout a development build was built in (see ``InstallLayout``). A relative `Policies`
    /// would load whatever the working directory holds.
    public static let defaultPoliciesDirectory: String =
        InstallLayout.defaultDirectory("Policies")?.path ?? "/usr/share/airlock/Policies"
    /// The trusted token issuers and proxies (`auth.config_file`); empty: only `alk_` tokens authenticate.
    public var auth: AuthConfiguration = AuthConfiguration()
    /// Airlock as a Shared Signals transmitter (`ssf.transmitter.issuer` and `ssf.transmitter.signing_key_file`);
    /// nil (the default): it transmits nothing and serves no `/.well-known/ssf-configuration`.
    public var sharedSignalsTransmitter: SharedSignalsTransmitterSettings?
    /// The approver console, when `console.public_url` is set (or `airlock dev` serves it).
    public var console: ConsoleSettings?
    /// The Shared Signals transmitters whose events `POST /ssf/receive` takes (`ssf.receiver.config_file`); none by
    /// default (every pushed SET is then `authentication_failed`).
    public var sharedSignalsReceiver = SharedSignalsReceiverConfiguration()
    /// A second factor approvers must have proven recently to approve access to some environments
    /// (`approvals.mfa_max_age_seconds`, `approvals.mfa_environments`); nil (the default): no such requirement.
    public var approvalMFA: ApprovalMFARequirement?
    /// Reminders and escalation of requests waiting for approval (`approvals.reminder_after_seconds`,
    /// `approvals.escalation_after_seconds`, `approvals.escalation_group`).
    public var approvalNudges = ApprovalNudges()
    /// The longest TTL anyone may ask for (`requests.max_ttl_seconds`, default 24 h).
    public var maximumTTLSeconds: Int64 = 86_400
    /// The time zone of `request.hour` and `request.weekday`.
    public var timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current
    /// The key-encryption keys (nil if no master key is configured).
    public var keyRing: KeyRing?
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text
    /// The CloudEvents `source` of audit events.
    public var auditSource: String = "urn:airlock"
    /// How often the audit chainer looks for new events.
    public var auditChainInterval: Duration = .milliseconds(100)
    /// The key of a keyed audit chain (`audit.chain_key_file`): hashes are HMAC-SHA-256 under it; nil: SHA-256.
    public var auditChainKey: AuditChainKey?
    /// The risk engine that decides with the policy (`risk.engine`, default `baseline`).
    public var riskEngine: RiskEngineChoice = .baseline
    /// Its weights, thresholds and windows (`risk.*`).
    public var riskSettings = RiskSettings()
    /// How often every active lease is decided again, beside the signals and policy changes that trigger it at once
    /// (`risk.reevaluation_interval`).
    public var reevaluationInterval: Duration = .seconds(60)
    /// The keys that sign audit checkpoints (`audit.checkpoint_key_file`); nil: no checkpoint is signed.
    public var auditCheckpointKeys: AuditCheckpointKeys?
    /// How often the audit chain's head is signed when it moved (`audit.checkpoint_interval`, default 5 minutes).
    public var auditCheckpointInterval: Duration = .seconds(300)
    /// The SIEM sink (`audit.sink.*`); nil (the default): none.
    public var auditSink: AuditSinkSettings?
    /// How long a token revocation waits for every live broker to drop the token (`tokens.revocation_wait_ms`);
    /// a broker that has not by then is named in the log and its caches switched off.
    public var tokenRevocationWait: Duration = .seconds(5)
    /// How long a connection may sit idle (no complete request part read, nothing being answered) before the
    /// broker closes it (`http.idle_timeout_seconds`).
    public var idleTimeout: Duration = .seconds(60)
    /// Requests per source address (`limits.address_rate`, `limits.address_burst`); API paths only.
    public var addressRateLimit = RateLimit(rate: 200, burst: 400)
    /// Requests per authenticated principal (`limits.principal_rate`, `limits.principal_burst`).
    public var principalRateLimit = RateLimit(rate: 100, burst: 200)

    /// Resources that may be missing from `resources.json` while leases of them may still hold a credential
    /// (`resources.allow_removed`): those leases are revoked with the resource's last known settings. Any other
    /// such resource stops the broker at start.
    public var allowRemovedResources: Set<String> = []
    /// Where webhooks may be delivered (`webhooks.allowed_ranges`, `webhooks.allow_loopback`): public addresses,
    /// plus the ranges allowed here; loopback (and `http` to it) only when allowed, as `airlock dev` does.
    public var webhookAddresses = WebhookAddressPolicy()

    /// Configuration with every default and no database.
    public init() {}

    /// Loads the configuration. `overrides` are command-line flags by setting key (they win over everything).
    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String: String] = [:]
    ) throws(ConfigurationError) -> AirlockConfiguration {
        let source = try ConfigurationSource(file: file, environment: environment, settings: Setting.all)
        var reader = ConfigurationReader(source: source, overrides: overrides)
        var configuration = AirlockConfiguration()

        if let listen = try reader.string("listen") {
            do {
                (configuration.listenHost, configuration.listenPort) = try Self.parseListen(listen)
            } catch {
                throw ConfigurationError(key: "listen", message: "\(error.message) (\(reader.origin("listen")))")
            }
        }
        if let url = try reader.string("database.url") {
            do {
                configuration.databaseURL = try DatabaseURL(url)
            } catch {
                throw ConfigurationError(key: "database.url", message: "\(error.message) (\(reader.origin("database.url")))")
            }
        }
        if let passwordFile = try reader.string("database.password_file") {
            guard configuration.databaseURL != nil else {
                throw ConfigurationError(
                    key: "database.password_file",
                    message: "is set (\(reader.origin("database.password_file"))) but `database.url` is not")
            }
            configuration.databaseURL?.password = try Self.readSecretFile(passwordFile, key: "database.password_file")
        }
        if let max = try reader.int("database.max_connections", in: 1...1000) {
            configuration.databaseMaxConnections = max
        }
        if let schema = try reader.string("database.schema") {
            do { configuration.databaseSchema = try SchemaName(schema) } catch { throw reader.invalid("database.schema") }
        }
        configuration.migrationsDirectory = try reader.string("database.migrations_dir")
        if let directory = try reader.string("policies.dir") {
            guard !directory.isEmpty else { throw reader.invalid("policies.dir") }
            configuration.policiesDirectory = directory
        }
        if let path = try reader.string("auth.config_file") {
            do { configuration.auth = try AuthConfiguration.load(fromFile: path) } catch {
                throw ConfigurationError(key: "auth.config_file", message: "\(error)")
            }
        }
        try configuration.loadSharedSignalsTransmitter(reader: &reader)
        try configuration.loadConsole(reader: &reader)
        if let path = try reader.string("ssf.receiver.config_file") {
            do { configuration.sharedSignalsReceiver = try SharedSignalsReceiverConfiguration.load(fromFile: path) } catch {
                throw ConfigurationError(key: "ssf.receiver.config_file", message: "\(error)")
            }
        }
        let approvalEnvironments = try reader.list("approvals.mfa_environments")
        if let age = try reader.int("approvals.mfa_max_age_seconds", in: 60...86_400) {
            var requirement = ApprovalMFARequirement(maximumAgeSeconds: Int64(age))
            if let approvalEnvironments {
                guard !approvalEnvironments.isEmpty, approvalEnvironments.allSatisfy(Self.isEnvironmentName) else {
                    throw reader.invalid("approvals.mfa_environments")
                }
                requirement.environments = Set(approvalEnvironments)
            }
            configuration.approvalMFA = requirement
        } else if approvalEnvironments != nil {
            throw ConfigurationError(
                key: "approvals.mfa_environments", message: "needs approvals.mfa_max_age_seconds (how recent the second factor must be)")
        }
        if let reminder = try reader.int("approvals.reminder_after_seconds", in: 0...3599) {
            guard reminder == 0 || reminder >= 60 else { throw reader.invalid("approvals.reminder_after_seconds") }
            configuration.approvalNudges.reminderAfterSeconds = reminder == 0 ? nil : Int64(reminder)
        }
        if let escalation = try reader.int("approvals.escalation_after_seconds", in: 60...3599) {
            configuration.approvalNudges.escalationAfterSeconds = Int64(escalation)
        }
        if let group = try reader.string("approvals.escalation_group") {
            guard Self.isGroupName(group) else { throw reader.invalid("approvals.escalation_group") }
            configuration.approvalNudges.escalationGroup = group
        }
        if let ttl = try reader.int("requests.max_ttl_seconds", in: 60...2_592_000) {
            configuration.maximumTTLSeconds = Int64(ttl)
        }
        if let zone = try reader.string("requests.time_zone") {
            guard let timeZone = TimeZone(identifier: zone) else { throw reader.invalid("requests.time_zone") }
            configuration.timeZone = timeZone
        }
        if let removed = try reader.list("resources.allow_removed") {
            guard removed.allSatisfy(ResourceIdentifier.isResourceID) else { throw reader.invalid("resources.allow_removed") }
            configuration.allowRemovedResources = Set(removed)
        }
        configuration.keyRing = try Self.loadKeyRing(reader: &reader, environment: environment)
        if let ranges = try reader.list("webhooks.allowed_ranges") {
            configuration.webhookAddresses.allowedRanges = try ranges.map { text throws(ConfigurationError) in
                guard let range = CIDR(text) else { throw reader.invalid("webhooks.allowed_ranges") }
                return range
            }
        }
        if let loopback = try reader.bool("webhooks.allow_loopback") {
            configuration.webhookAddresses.allowsLoopback = loopback
        }
        if let level = try reader.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw reader.invalid("log.level")
            }
            configuration.logLevel = parsed
        }
        if let format = try reader.string("log.format") {
            guard let parsed = LogFormat(rawValue: format) else { throw reader.invalid("log.format") }
            configuration.logFormat = parsed
        }
        if let auditSource = try reader.string("audit.source") {
            guard !auditSource.isEmpty, !auditSource.contains(where: \.isWhitespace) else {
                throw reader.invalid("audit.source")
            }
            configuration.auditSource = auditSource
        }
        if let interval = try reader.int("audit.chain_interval_ms", in: 10...10_000) {
            configuration.auditChainInterval = .milliseconds(interval)
        }
        try configuration.loadAuditCheckpoints(reader: &reader)
        try configuration.loadRisk(reader: &reader)
        configuration.auditSink = try AuditSinkSettings.load(&reader)
        if let wait = try reader.int("tokens.revocation_wait_ms", in: 100...60_000) {
            configuration.tokenRevocationWait = .milliseconds(wait)
        }
        if let seconds = try reader.int("http.idle_timeout_seconds", in: 1...3600) {
            configuration.idleTimeout = .seconds(seconds)
        }
        if let rate = try reader.int("limits.address_rate", in: 0...1_000_000) { configuration.addressRateLimit.rate = rate }
        if let burst = try reader.int("limits.address_burst", in: 1...1_000_000) { configuration.addressRateLimit.burst = burst }
        if let rate = try reader.int("limits.principal_rate", in: 0...1_000_000) {
            configuration.principalRateLimit.rate = rate
        }
        if let burst = try reader.int("limits.principal_burst", in: 1...1_000_000) {
            configuration.principalRateLimit.burst = burst
        }
        return configuration
    }

    /// The database URL, or an error saying how to set it.
    public func requireDatabaseURL() throws(ConfigurationError) -> DatabaseURL {
        guard let databaseURL else {
            throw ConfigurationError(
                key: "database.url",
                message: "no database configured: set AIRLOCK_DATABASE_URL, pass --database-url, or set database.url in the config file")
        }
        return databaseURL
    }

    /// The key ring, or an error saying how to provide a master key.
    public func requireKeyRing() throws(ConfigurationError) -> KeyRing {
        guard let keyRing else {
            throw ConfigurationError(
                key: "keys.master_key_file",
                message: "no master key: set AIRLOCK_MASTER_KEY or keys.master_key_file (create one with `airlock keys generate`)")
        }
        return keyRing
    }

    static func parseListen(_ text: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigurationError(key: "listen", message: "expected HOST:PORT with a port from 0 to 65535, got `\(text)`")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            throw ConfigurationError(key: "listen", message: "expected HOST:PORT, got `\(text)`")
        }
        return (host, port)
    }

    /// The trimmed text of a password file, which must be private to this user (``SecretFile``).
    static func readSecretFile(_ path: String, key: String) throws(ConfigurationError) -> String {
        do throws(SecretFileError) {
            return try SecretFile.readText(path).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch where error.code == SecretFileError.unreadableCode {
            throw ConfigurationError(key: key, message: "cannot read the file `\(path)`")
        } catch {
            throw ConfigurationError(key: key, message: error.message)
        }
    }

    /// A group as `approvals.escalation_group` names it (it is also the escalation's alert channel): 1 to 128
    /// printable ASCII characters without spaces or commas.
    static func isGroupName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count) && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x2C }
    }

    /// A `resource.env` as `approvals.mfa_environments` names it: 1 to 64 of a-z, 0-9, `_` and `-`.
    static func isEnvironmentName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }

    private static func loadKeyRing(
        reader: inout ConfigurationReader, environment: [String: String]
    ) throws(ConfigurationError) -> KeyRing? {
        let current: KeyEncryptionKey?
        if let path = reader.overrides["keys.master_key_file"] {
            do { current = try KeyEncryptionKey.load(fromFile: path) } catch {
                throw ConfigurationError(key: "keys.master_key_file", message: "\(error.message) (from the command line)")
            }
        } else if let text = environment["AIRLOCK_MASTER_KEY"] {
            do { current = try KeyEncryptionKey(text: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
                throw ConfigurationError(key: "AIRLOCK_MASTER_KEY", message: "\(error.message) (create one with `airlock keys generate`)")
            }
        } else if let path = try reader.string("keys.master_key_file") {
            do { current = try KeyEncryptionKey.load(fromFile: path) } catch {
                throw ConfigurationError(key: "keys.master_key_file", message: error.message)
            }
        } else {
            current = nil
        }
        var previous: [KeyEncryptionKey] = []
        if let texts = environment["AIRLOCK_PREVIOUS_MASTER_KEYS"] {
            for text in texts.split(separator: ",") {
                do { previous.append(try KeyEncryptionKey(text: text.trimmingCharacters(in: .whitespaces))) } catch {
                    throw ConfigurationError(key: "AIRLOCK_PREVIOUS_MASTER_KEYS", message: error.message)
                }
            }
        }
        for path in try reader.list("keys.previous_key_files") ?? [] {
            do { previous.append(try KeyEncryptionKey.load(fromFile: path)) } catch {
                throw ConfigurationError(key: "keys.previous_key_files", message: error.message)
            }
        }
        guard let current else {
            if !previous.isEmpty {
                throw ConfigurationError(key: "keys.master_key_file", message: "previous master keys are set but no current one")
            }
            return nil
        }
        return KeyRing(current: current, previous: previous)
    }
}
