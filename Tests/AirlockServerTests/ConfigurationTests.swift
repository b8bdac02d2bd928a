import AirlockBroker
import AirlockStore
import AirlockServer
import AirlockTestSupport
import Foundation
import Logging
import Testing

@Suite("Configuration layering and validation", .timeLimit(.minutes(2)))
struct ConfigurationTests {
    @Test("with nothing configured every setting has its documented default")
    func defaults() throws {
        let config = try AirlockConfiguration.load(file: nil, environment: [:])
        #expect(config.listenHost == "127.0.0.1")
        #expect(config.listenPort == 8420)
        #expect(config.databaseURL == nil)
        #expect(config.databaseMaxConnections == 20)
        #expect(config.migrationsDirectory == nil)
        #expect(config.keyRing == nil)
        #expect(config.logLevel == .info)
        #expect(config.logFormat == .text)
        #expect(config.auditSource == "urn:airlock")
        #expect(config.auditChainInterval == .milliseconds(100))
    }

    @Test("a file with nested sections sets every setting")
    func fileValues() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("airlock.json", """
            {"listen": "0.0.0.0:9000",
             "database": {"url": "postgres://broker@db.internal:6543/airlock?sslmode=require",
                          "max_connections": 7, "migrations_dir": "/opt/airlock/Migrations"},
             "log": {"level": "debug", "format": "json"},
             "audit": {"source": "urn:airlock:prod", "chain_interval_ms": 250}}
            """)
        let config = try AirlockConfiguration.load(file: file, environment: [:])
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9000)
        let url = try #require(config.databaseURL)
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.username == "broker")
        #expect(url.database == "airlock")
        #expect(url.tlsMode == .require)
        #expect(config.databaseMaxConnections == 7)
        #expect(config.migrationsDirectory == "/opt/airlock/Migrations")
        #expect(config.logLevel == .debug)
        #expect(config.logFormat == .json)
        #expect(config.auditSource == "urn:airlock:prod")
        #expect(config.auditChainInterval == .milliseconds(250))
    }

    @Test("a dotted key at the top level of the file means the same as the nested form")
    func dottedKeysInFile() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", #"{"database.max_connections": 33, "log.level": "warning"}"#)
        let config = try AirlockConfiguration.load(file: file, environment: [:])
        #expect(config.databaseMaxConnections == 33)
        #expect(config.logLevel == .warning)
    }

    @Test("AIRLOCK_* environment variables win over the file, flags win over both")
    func layering() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", """
            {"listen": "127.0.0.1:1111", "database": {"url": "postgres://file@h/filedb", "max_connections": 5},
             "log": {"level": "error"}}
            """)
        let environment = [
            "AIRLOCK_DATABASE_URL": "postgres://env@h/envdb", "AIRLOCK_LISTEN": "127.0.0.2:2222",
            "AIRLOCK_LOG_LEVEL": "trace", "AIRLOCK_DATABASE_MAX_CONNECTIONS": " 50 ",
        ]
        let fromEnv = try AirlockConfiguration.load(file: file, environment: environment)
        #expect(fromEnv.databaseURL?.database == "envdb")
        #expect(fromEnv.listenHost == "127.0.0.2")
        #expect(fromEnv.listenPort == 2222)
        #expect(fromEnv.logLevel == .trace)
        #expect(fromEnv.databaseMaxConnections == 50)

        let overrides = [
            "database.url": "postgres://flag@h/flagdb", "listen": "127.0.0.3:3333",
            "log.level": "notice", "database.max_connections": "500",
        ]
        let fromFlags = try AirlockConfiguration.load(file: file, environment: environment, overrides: overrides)
        #expect(fromFlags.databaseURL?.database == "flagdb")
        #expect(fromFlags.listenHost == "127.0.0.3")
        #expect(fromFlags.listenPort == 3333)
        #expect(fromFlags.logLevel == .notice)
        #expect(fromFlags.databaseMaxConnections == 500)
    }

    @Test("listen accepts host:port forms", arguments: [
        ("0.0.0.0:0", "0.0.0.0", 0), ("[::1]:8421", "::1", 8421), ("localhost:65535", "localhost", 65535),
    ])
    func listenForms(text: String, host: String, port: Int) throws {
        let config = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_LISTEN": text])
        #expect(config.listenHost == host)
        #expect(config.listenPort == port)
    }

    /// Where a bad value is put.
    enum Place: String, Sendable { case environment, file, flag }

    struct BadValue: Sendable, CustomTestStringConvertible {
        let key: String
        let place: Place
        /// A raw string for the environment and flags; a JSON literal for the file.
        let value: String
        /// Text the message must contain besides the origin (what is expected).
        let expected: String
        var testDescription: String { "\(key) = \(value) (\(place.rawValue))" }
    }

    static let badValues: [BadValue] = [
        BadValue(key: "database.max_connections", place: .environment, value: "abc", expected: "1 to 1000"),
        BadValue(key: "database.max_connections", place: .file, value: "0", expected: "1 to 1000"),
        BadValue(key: "database.max_connections", place: .flag, value: "5000", expected: "1 to 1000"),
        BadValue(key: "database.max_connections", place: .file, value: "2.5", expected: "1 to 1000"),
        BadValue(key: "database.max_connections", place: .file, value: #""many""#, expected: "1 to 1000"),
        BadValue(key: "log.level", place: .environment, value: "loud", expected: "trace, debug, info"),
        BadValue(key: "log.level", place: .file, value: "true", expected: "trace, debug, info"),
        BadValue(key: "log.format", place: .file, value: #""xml""#, expected: "`json`"),
        BadValue(key: "listen", place: .environment, value: "nope", expected: "HOST:PORT"),
        BadValue(key: "listen", place: .flag, value: "host:99999", expected: "HOST:PORT"),
        BadValue(key: "listen", place: .file, value: #"":8420""#, expected: "HOST:PORT"),
        BadValue(key: "listen", place: .file, value: "8420", expected: "HOST:PORT"),
        BadValue(key: "database.url", place: .environment, value: "mysql://u@h/db", expected: "postgres"),
        BadValue(key: "database.url", place: .file, value: #""postgres://u@h/db?sslmode=off""#, expected: "sslmode"),
        BadValue(key: "audit.chain_interval_ms", place: .file, value: "5", expected: "10 to 10000"),
        BadValue(key: "audit.chain_interval_ms", place: .environment, value: "10001", expected: "10 to 10000"),
        BadValue(key: "audit.source", place: .file, value: #""urn:airlock prod""#, expected: "URI"),
        BadValue(key: "database.migrations_dir", place: .file, value: "false", expected: "Migrations"),
    ]

    @Test("a bad value stops with an error naming the setting, what is expected and where it came from",
          arguments: badValues)
    func badValue(_ bad: BadValue) throws {
        let dir = try TemporaryDirectory()
        var file: String?
        var environment: [String: String] = [:]
        var overrides: [String: String] = [:]
        let origin: String
        switch bad.place {
        case .environment:
            let name = "AIRLOCK_" + bad.key.uppercased().replacingOccurrences(of: ".", with: "_")
            environment[name] = bad.value
            origin = "from \(name)"
        case .flag:
            overrides[bad.key] = bad.value
            origin = "from the command line"
        case .file:
            let parts = bad.key.split(separator: ".")
            let json = parts.reversed().reduce(bad.value) { inner, part in "{\"\(part)\": \(inner)}" }
            file = try dir.write("c.json", json)
            origin = "in \(file!)"
        }
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: file, environment: environment, overrides: overrides)
        }
        #expect(error?.key == bad.key)
        #expect(error?.message.contains(bad.expected) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(origin) == true, "\(error?.message ?? "") should say \(origin)")
        #expect(error?.description.contains("`\(bad.key)`") == true)
    }

    @Test("an unknown key in the file is named, with a suggestion", arguments: [
        (#"{"databse": {"url": "postgres://u@h/db"}}"#, "databse.url", "database.url"),
        (#"{"log": {"levle": "info"}}"#, "log.levle", "log.level"),
        (#"{"listn": "127.0.0.1:1"}"#, "listn", "listen"),
    ])
    func unknownKey(json: String, key: String, suggestion: String) throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", json)
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: file, environment: [:])
        }
        #expect(error?.key == key)
        #expect(error?.message.contains("did you mean `\(suggestion)`") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(file) == true)
    }

    @Test("an unknown key with nothing close gets no suggestion")
    func unknownKeyWithoutSuggestion() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", #"{"telemetry": {"endpoint": "x"}}"#)
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: file, environment: [:])
        }
        #expect(error?.key == "telemetry.endpoint")
        #expect(error?.message.contains("did you mean") == false)
    }

    @Test("an unreadable or malformed config file is an error naming the file", arguments: [
        "{\"listen\": ", "[1, 2]", "", "{\"listen\": {\"host\": \"x\"}}", "{\"keys\": {\"previous_key_files\": [1]}}",
    ])
    func malformedFile(text: String) throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", text)
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: file, environment: [:])
        }
        #expect(error?.message.contains(file) == true, "\(error?.message ?? "")")
    }

    @Test("a config file that does not exist is an error naming it")
    func missingFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.missing("nowhere.json")
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: path, environment: [:])
        }
        #expect(error?.key == "config")
        #expect(error?.message.contains(path) == true)
    }

    @Test("every documented setting is accepted in the file and has an AIRLOCK_ variable", arguments: Setting.all.map(\.key))
    func everySettingIsKnown(key: String) throws {
        let setting = try #require(Setting.all.first { $0.key == key })
        #expect(setting.environmentName == "AIRLOCK_" + key.uppercased().replacingOccurrences(of: ".", with: "_"))
        #expect(!setting.expected.isEmpty)
        #expect(Setting.all.filter { $0.key == key }.count == 1)
        let dir = try TemporaryDirectory()
        let json = key.split(separator: ".").reversed().reduce("null") { inner, part in "{\"\(part)\": \(inner)}" }
        _ = try AirlockConfiguration.load(file: try dir.write("c.json", json), environment: [:])
    }

    @Test("requireDatabaseURL and requireKeyRing say how to configure what is missing")
    func requiredSettings() throws {
        let config = AirlockConfiguration()
        let database = #expect(throws: ConfigurationError.self) { try config.requireDatabaseURL() }
        #expect(database?.key == "database.url")
        #expect(database?.message.contains("AIRLOCK_DATABASE_URL") == true)
        let keys = #expect(throws: ConfigurationError.self) { try config.requireKeyRing() }
        #expect(keys?.key == "keys.master_key_file")
        #expect(keys?.message.contains("AIRLOCK_MASTER_KEY") == true)

        let loaded = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_DATABASE_URL": "postgres://u@h/d"])
        #expect(try loaded.requireDatabaseURL().database == "d")
    }
}

@Suite
struct ApprovalMFAConfigurationTests {
    @Test("approvals.mfa_max_age_seconds with its environments (prod by default); out-of-range ages, bad environment names, and environments without an age are refused")
    func approvalMFASettings() throws {
        let plain = try AirlockConfiguration.load(file: nil, environment: [:])
        #expect(plain.approvalMFA == nil)
        let defaults = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_APPROVALS_MFA_MAX_AGE_SECONDS": "900"])
        #expect(defaults.approvalMFA == ApprovalMFARequirement(maximumAgeSeconds: 900, environments: ["prod"]))
        let named = try AirlockConfiguration.load(file: nil, environment: [
            "AIRLOCK_APPROVALS_MFA_MAX_AGE_SECONDS": "600", "AIRLOCK_APPROVALS_MFA_ENVIRONMENTS": "prod,pci-prod",
        ])
        #expect(named.approvalMFA == ApprovalMFARequirement(maximumAgeSeconds: 600, environments: ["prod", "pci-prod"]))
        for bad: [String: String] in [
            ["AIRLOCK_APPROVALS_MFA_MAX_AGE_SECONDS": "59"],
            ["AIRLOCK_APPROVALS_MFA_MAX_AGE_SECONDS": "86401"],
            ["AIRLOCK_APPROVALS_MFA_MAX_AGE_SECONDS": "900", "AIRLOCK_APPROVALS_MFA_ENVIRONMENTS": "Prod"],
            ["AIRLOCK_APPROVALS_MFA_ENVIRONMENTS": "prod"],
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try AirlockConfiguration.load(file: nil, environment: bad) }
        }
    }

    @Test("approval reminders (15 minutes by default, 0 for never) and escalation (only with a group); bad values refused")
    func approvalNudgeSettings() throws {
        let plain = try AirlockConfiguration.load(file: nil, environment: [:])
        #expect(plain.approvalNudges == ApprovalNudges(reminderAfterSeconds: 900, escalationAfterSeconds: 1800, escalationGroup: nil))
        let set = try AirlockConfiguration.load(file: nil, environment: [
            "AIRLOCK_APPROVALS_REMINDER_AFTER_SECONDS": "0", "AIRLOCK_APPROVALS_ESCALATION_AFTER_SECONDS": "600",
            "AIRLOCK_APPROVALS_ESCALATION_GROUP": "oncall",
        ])
        #expect(set.approvalNudges == ApprovalNudges(reminderAfterSeconds: nil, escalationAfterSeconds: 600, escalationGroup: "oncall"))
        for bad: [String: String] in [
            ["AIRLOCK_APPROVALS_REMINDER_AFTER_SECONDS": "30"],
            ["AIRLOCK_APPROVALS_ESCALATION_AFTER_SECONDS": "59"],
            ["AIRLOCK_APPROVALS_ESCALATION_AFTER_SECONDS": "3600"],
            ["AIRLOCK_APPROVALS_REMINDER_AFTER_SECONDS": "3600"],
            ["AIRLOCK_APPROVALS_ESCALATION_GROUP": "on call"],
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try AirlockConfiguration.load(file: nil, environment: bad) }
        }
    }
}
