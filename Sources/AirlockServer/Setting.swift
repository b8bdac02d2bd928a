import AirlockCore
import AirlockRisk

/// One documented configuration setting: its key in the config file and its environment variable.
public struct Setting: Sendable {
    /// The dotted key in the config file, e.g. `database.url`.
    public let key: String
    /// The environment variable that overrides it, e.g. `AIRLOCK_DATABASE_URL`.
    public let environmentName: String
    /// What a valid value looks like, for error messages and `Docs/configuration.md`.
    public let expected: String

    init(_ key: String, expected: String) {
        self.key = key
        self.environmentName = "AIRLOCK_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
        self.expected = expected
    }

    /// Every setting Airlock reads. Secrets are not settings: they come from the environment
    /// (`AIRLOCK_MASTER_KEY`, `AIRLOCK_PREVIOUS_MASTER_KEYS`) or from files named here.
    public static let all: [Setting] = [
        Setting("listen", expected: "HOST:PORT, e.g. 127.0.0.1:8420"),
        Setting("database.url", expected: "postgres://USER[:PASSWORD]@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-ca|verify-full][&sslrootcert=FILE]"),
        Setting("database.password_file", expected: "a path to a file holding the database password"),
        Setting("database.max_connections", expected: "an integer from 1 to 1000"),
        Setting("database.migrations_dir", expected: "a path to the Migrations directory"),
        Setting("database.schema", expected: "a schema name: lower-case letters, digits and _ (not starting with a digit or pg_), at most 63 bytes"),
        Setting("policies.dir", expected: "a directory of *.airlock policy files"),
        Setting("resources.allow_removed", expected: "a list of resource ids whose leases may outlive their place in resources.json"),
        Setting("auth.config_file", expected: "a path to the JSON file of trusted token issuers (see Docs/authentication.md)"),
        Setting("ssf.transmitter.issuer", expected: "the broker's public base URL, the `iss` of the Security Event Tokens it transmits (https, e.g. https://airlock.example.com)"),
        Setting("ssf.transmitter.signing_key_file", expected: "a path to an RSA private key of at least 2048 bits in PEM (mode 0600), e.g. from `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`"),
        Setting("ssf.receiver.config_file", expected: "a path to the JSON file of Shared Signals transmitters whose events the broker receives (see Docs/shared-signals.md)"),
        Setting("console.public_url", expected: "the broker's base URL as browsers reach it (https, or http on loopback): serves the approver console at /console"),
        Setting("console.oidc.issuer", expected: "the issuer of the console's ID tokens: one of the issuers of auth.config_file, whose audiences include console.oidc.client_id"),
        Setting("console.oidc.client_id", expected: "the console's OpenID Connect client id at that issuer"),
        Setting("console.oidc.client_secret_file", expected: "a path to a file (mode 0600) holding the client secret, for a confidential client; without it the console is a public client (PKCE)"),
        Setting("console.oidc.authorization_endpoint", expected: "the issuer's authorization endpoint URL (https, or http on loopback)"),
        Setting("console.oidc.token_endpoint", expected: "the issuer's token endpoint URL (https, or http on loopback)"),
        Setting("console.admin_groups", expected: "a list of groups whose members act as admins in the console (revoke-all, every lease, the audit log)"),
        Setting("console.auditor_groups", expected: "a list of groups whose members read the audit log in the console"),
        Setting("console.session_ttl_seconds", expected: "an integer from 300 to 604800: how long a console session lasts"),
        Setting("approvals.mfa_max_age_seconds", expected: "an integer from 60 to 86400: approving access to a resource of approvals.mfa_environments needs a second factor at most this old"),
        Setting("approvals.mfa_environments", expected: "a list of resource environments (`env` in resources.json: a-z, 0-9, _ and -) whose approvals need a recent second factor; default prod"),
        Setting("approvals.reminder_after_seconds", expected: "0 (never) or an integer from 60 to 3599 (within the hour a request may wait): how long a request waits for approval before its approvers are reminded"),
        Setting("approvals.escalation_after_seconds", expected: "an integer from 60 to 3599 (within the hour a request may wait): how long a request waits for approval before approvals.escalation_group hears of it"),
        Setting("approvals.escalation_group", expected: "a group name (also the alert channel) that hears of requests nobody decided in time, e.g. oncall"),
        Setting("requests.max_ttl_seconds", expected: "an integer from 60 to 2592000"),
        Setting("requests.time_zone", expected: "a time zone identifier such as UTC or Europe/Berlin"),
        Setting("keys.master_key_file", expected: "a path to a file holding a key from `airlock keys generate`"),
        Setting("keys.previous_key_files", expected: "a list of paths to files holding earlier master keys"),
        Setting("log.level", expected: "one of trace, debug, info, notice, warning, error, critical"),
        Setting("log.format", expected: "`text` or `json`"),
        Setting("audit.source", expected: "a CloudEvents source URI-reference, e.g. urn:airlock:prod"),
        Setting("audit.chain_interval_ms", expected: "an integer from 10 to 10000"),
        Setting("audit.checkpoint_key_file", expected: "a path to a key file from `airlock audit keygen` (mode 0600)"),
        Setting("audit.chain_key_file", expected: "a path to a chain key file from `airlock audit keygen --chain` (mode 0600)"),
        Setting("audit.checkpoint_interval", expected: "a duration from 1s to 1d, e.g. 30s, 5m or 1h"),
        Setting("audit.sink.path", expected: "a file path for the JSON Lines audit sink, or `-` for standard output"),
        Setting("audit.sink.format", expected: "`cloudevents` or `ocsf`"),
        Setting("audit.sink.max_bytes", expected: "an integer from 4096 to 1099511627776: the size a sink file is rotated at"),
        Setting("audit.sink.keep", expected: "an integer from 0 to 1000: rotated sink files kept"),
        Setting("audit.sink.name", expected: "a sink name: lower-case letters, digits and _ . : - (starting with a letter or digit), at most 63 characters"),
        Setting("tokens.revocation_wait_ms", expected: "an integer from 100 to 60000"),
        Setting("http.idle_timeout_seconds", expected: "an integer from 1 to 3600"),
        Setting("limits.address_rate", expected: "an integer from 0 (no limit) to 1000000"),
        Setting("limits.address_burst", expected: "an integer from 1 to 1000000"),
        Setting("limits.principal_rate", expected: "an integer from 0 (no limit) to 1000000"),
        Setting("limits.principal_burst", expected: "an integer from 1 to 1000000"),
        Setting("webhooks.allowed_ranges", expected: "a list of CIDR ranges webhooks may be delivered to although they are private, e.g. 10.20.0.0/16"),
        Setting("webhooks.allow_loopback", expected: "`true` or `false`: webhooks to loopback receivers, over http too (development only)"),
    ] + risk

    /// The risk engine's settings (`Docs/risk.md`, "Tuning").
    static let risk: [Setting] = [
        Setting("risk.levels.medium", expected: "an integer from 1 to 100: the score from which a principal's risk level is MEDIUM (default 30)"),
        Setting("risk.levels.high", expected: "an integer from 1 to 100, above risk.levels.medium: the score from which it is HIGH (default 70)"),
        Setting("risk.engine", expected: "`baseline` (each principal's history and active signals) or `off` (score 0)"),
        Setting("risk.new_source_ip.window", expected: "a duration from 1h to 365d, e.g. 30d"),
        Setting("risk.off_hours.window", expected: "a duration from 7d to 365d, e.g. 90d"),
        Setting("risk.off_hours.minimum_history", expected: "an integer from 0 to 100000"),
        Setting("risk.off_hours.rare_percent", expected: "an integer from 0 to 100"),
        Setting("risk.off_hours.business_hours", expected: "START-END in whole hours, e.g. 8-18"),
        Setting("risk.burst.window", expected: "a duration from 10s to 1h, e.g. 60s"),
        Setting("risk.burst.minimum", expected: "an integer from 2 to 100000"),
        Setting("risk.burst.factor", expected: "an integer from 1 to 1000"),
        Setting("risk.sensitivity_jump.floor", expected: "an integer from 0 to 10"),
        Setting("risk.peer_outlier.minimum", expected: "an integer from 1 to 100000"),
        Setting("risk.peer_outlier.percent", expected: "an integer from 0 to 100"),
        Setting("risk.stale_mfa.after", expected: "a duration from 1m to 30d, e.g. 12h"),
        Setting("risk.denial_streak.count", expected: "an integer from 1 to 1000"),
        Setting("risk.alert_score", expected: "an integer from 1 to 101 (101: never by score)"),
        Setting("risk.alert_signals", expected: "a list of built-in signal names, e.g. burst, denial_streak, break_glass"),
        Setting("risk.repeated_activation.count", expected: "an integer from 2 to 1000"),
        Setting("risk.repeated_activation.sensitivity", expected: "an integer from 0 to 11 (11: never)"),
        Setting("risk.repeated_activation.window", expected: "a duration from 1d to 365d, e.g. 30d"),
        Setting("risk.reevaluation_interval", expected: "a duration from 1s to 1d, e.g. 60s"),
    ] + BuiltInRiskSignal.allCases.map {
        Setting("risk.weights.\($0.rawValue)", expected: "an integer from 0 (off) to 100")
    } + Severity.allCases.map {
        Setting("risk.external_weights.\($0.rawValue)", expected: "an integer from 0 to 100")
    }
}
