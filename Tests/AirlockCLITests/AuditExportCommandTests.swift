import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// `airlock audit export`: the chain from the database as JSON Lines, in either sink format.
struct AuditExportCommandTests {
    /// A database holding five chained events, the third an issued PostgreSQL credential.
    static func chainedDatabase() async throws -> DatabaseURL {
        let url = try await TestDatabase.fresh()
        try await TestDatabase.withExisting(url) { database in
            let log = AuditLog(source: "urn:airlock:test")
            for number in 1...5 {
                try await database.client.withTransaction(logger: TestDatabase.logger) { connection in
                    let event = number == 3
                        ? NewAuditEvent(type: "airlock.credential.issued", subject: "lease-3", data: [
                            "principal": "alice", "role": "readonly", "resource": "orders-db",
                            "username": "airlock_readonly_x1"])
                        : NewAuditEvent(type: "airlock.test.export", subject: "e\(number)")
                    try await log.append(event, on: connection, logger: TestDatabase.logger)
                }
            }
            let chainer = AuditChainer(database: database, logger: TestDatabase.logger)
            while try await chainer.chainPending() > 0 {}
        }
        return url
    }

    static func lines(_ output: String) throws -> [JSONValue] {
        try output.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }

    @Test("cloudevents and ocsf lines, from the start or after a sequence; a bad format is refused",
          .timeLimit(.minutes(2)))
    func export() async throws {
        let url = try await Self.chainedDatabase()
        let all = try await AirlockBinary.run(["audit", "export", "--database-url", url.testURLString])
        #expect(all.status == 0, "stderr: \(all.errors)")
        #expect(try Self.lines(all.output).map { $0["sequence"] } == [1, 2, 3, 4, 5])
        #expect(try Self.lines(all.output).allSatisfy { $0["hash"]?.stringValue?.count == 64 })

        let after = try await AirlockBinary.run(
            ["audit", "export", "--after", "2", "--through", "4", "--database-url", url.testURLString])
        #expect(try Self.lines(after.output).map { $0["sequence"] } == [3, 4])

        let ocsf = try await AirlockBinary.run(
            ["audit", "export", "--format", "ocsf", "--database-url", url.testURLString])
        #expect(ocsf.status == 0, "stderr: \(ocsf.errors)")
        let records = try Self.lines(ocsf.output)
        #expect(records.map { $0["metadata"]?["sequence"] } == [1, 2, 3, 3, 4, 5])
        #expect(records.map { $0["class_uid"] } == [6003, 6003, 3005, 3001, 6003, 6003])

        let bad = try await AirlockBinary.run(["audit", "export", "--format", "syslog", "--database-url", url.testURLString])
        #expect(bad.status != 0)
        #expect(bad.errors.contains("--format must be cloudevents or ocsf"))
    }
}

/// `airlock serve` with `audit.sink.path` `-`: the chain as OCSF JSON Lines on standard output, nothing else there.
struct StandardOutputSinkTests {
    @Test("serve writes every chained event's OCSF records to stdout, in order; its log stays on stderr",
          .timeLimit(.minutes(2)))
    func serveToStdout() async throws {
        let url = try await AuditExportCommandTests.chainedDatabase()
        var environment = ServeAndMigrateCommandTests.masterKeyEnvironment
        environment["AIRLOCK_AUDIT_SINK_PATH"] = "-"
        environment["AIRLOCK_AUDIT_SINK_FORMAT"] = "ocsf"
        let running = try AirlockBinary.start(
            ["serve", "--database-url", url.testURLString, "--listen", "127.0.0.1:0"], environment: environment)
        defer { running.kill() }
        let deadline = ContinuousClock.now + .seconds(60)
        var lines: [String] = []
        while ContinuousClock.now < deadline {
            lines = running.output.split(separator: "\n").map(String.init)
            if lines.count >= 6 || !running.process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(lines.count >= 6, "stdout: \(running.output)\nstderr: \(running.errors)")
        let records = try lines.map { try JSONValue.parse($0) }  // only JSON Lines: no log line on stdout
        #expect(records.prefix(6).map { $0["metadata"]?["sequence"] } == [1, 2, 3, 3, 4, 5])
        #expect(records.prefix(6).map { $0["class_uid"] } == [6003, 6003, 3005, 3001, 6003, 6003])
        #expect(records.allSatisfy { $0["metadata"]?["version"] == "1.8.0" })
    }
}
