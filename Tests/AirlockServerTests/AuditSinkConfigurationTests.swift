import AirlockAudit
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// `audit.sink.*`: the SIEM sink's settings from the file and the environment, their defaults and their errors.
@Suite("Audit sink configuration")
struct AuditSinkConfigurationTests {
    @Test("no audit.sink.path: no sink")
    func none() throws {
        #expect(try AirlockConfiguration.load(file: nil, environment: [:]).auditSink == nil)
    }

    @Test("a path alone: cloudevents, 100 MiB, 5 rotated files, cursor `default`")
    func defaults() throws {
        let sink = try #require(try AirlockConfiguration.load(
            file: nil, environment: ["AIRLOCK_AUDIT_SINK_PATH": "/var/log/airlock/audit.jsonl"]).auditSink)
        #expect(sink.path == "/var/log/airlock/audit.jsonl")
        #expect(sink.format == .cloudevents)
        #expect(sink.maxBytes == 104_857_600)
        #expect(sink.keep == 5)
        #expect(sink.name == "default")
    }

    @Test("every setting, nested in the file, the environment winning")
    func everySetting() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("airlock.json", """
            {"audit": {"source": "urn:airlock:prod",
                       "sink": {"path": "-", "format": "ocsf", "max_bytes": 1048576, "keep": 0, "name": "replica-a"}}}
            """)
        let fromFile = try #require(try AirlockConfiguration.load(file: file, environment: [:]).auditSink)
        #expect(fromFile.path == "-")
        #expect(fromFile.format == .ocsf)
        #expect(fromFile.maxBytes == 1_048_576)
        #expect(fromFile.keep == 0)
        #expect(fromFile.name == "replica-a")
        let overridden = try #require(try AirlockConfiguration.load(file: file, environment: [
            "AIRLOCK_AUDIT_SINK_FORMAT": "cloudevents", "AIRLOCK_AUDIT_SINK_KEEP": "12",
            "AIRLOCK_AUDIT_SINK_NAME": "replica-b", "AIRLOCK_AUDIT_SINK_MAX_BYTES": "4096",
        ]).auditSink)
        #expect(overridden.format == .cloudevents)
        #expect(overridden.keep == 12)
        #expect(overridden.name == "replica-b")
        #expect(overridden.maxBytes == 4096)
    }

    @Test("bad values stop start-up naming the setting", arguments: [
        (["AIRLOCK_AUDIT_SINK_PATH": "/x", "AIRLOCK_AUDIT_SINK_FORMAT": "syslog"], "audit.sink.format"),
        (["AIRLOCK_AUDIT_SINK_PATH": "/x", "AIRLOCK_AUDIT_SINK_MAX_BYTES": "100"], "audit.sink.max_bytes"),
        (["AIRLOCK_AUDIT_SINK_PATH": "/x", "AIRLOCK_AUDIT_SINK_KEEP": "-1"], "audit.sink.keep"),
        (["AIRLOCK_AUDIT_SINK_PATH": "/x", "AIRLOCK_AUDIT_SINK_NAME": "Replica A"], "audit.sink.name"),
        (["AIRLOCK_AUDIT_SINK_PATH": ""], "audit.sink.path"),
        (["AIRLOCK_AUDIT_SINK_PATH": "/var/log/"], "audit.sink.path"),
        (["AIRLOCK_AUDIT_SINK_FORMAT": "ocsf"], "audit.sink.format"),
    ])
    func invalid(_ environment: [String: String], _ key: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: environment)
        }
        #expect(error.key == key)
        if environment["AIRLOCK_AUDIT_SINK_PATH"] == nil {
            #expect(error.message == "is set (from AIRLOCK_AUDIT_SINK_FORMAT) but `audit.sink.path` is not")
        }
    }
}
