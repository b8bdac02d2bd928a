import AirlockAudit
import AirlockBroker
import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// The SIEM sink (issue 14) on real PostgreSQL: the dispatcher writes the chain to a JSON Lines file in order in both
/// formats, nothing lost across rotation, restarts and crashes, retries a sink that cannot write; and through the
/// real broker, an issued credential's secret never reaches the sink.
@Suite(.serialized)
struct AuditSinkTests {
    static var logger: Logger { TestDatabase.logger }

    /// Appends `count` events (`airlock.test.sink`, numbers `start...`), every fifth an issued PostgreSQL credential
    /// (two OCSF records), each in its own transaction, and chains them.
    static func appendAndChain(_ count: Int, startingAt start: Int = 0, in database: Database) async throws {
        let log = AuditLog(source: "urn:airlock:test")
        for number in start..<(start + count) {
            try await database.client.withTransaction(logger: logger) { connection in
                let event = number.isMultiple(of: 5)
                    ? NewAuditEvent(
                        type: "airlock.credential.issued", subject: "lease-\(number)",
                        data: ["principal": "alice", "role": "readonly", "resource": "orders-db",
                               "username": .string("airlock_readonly_\(number)"), "number": .int(Int64(number))])
                    : NewAuditEvent(type: "airlock.test.sink", subject: "e\(number)", data: ["number": .int(Int64(number))])
                try await log.append(event, on: connection, logger: logger)
            }
        }
        let chainer = AuditChainer(database: database, logger: logger)
        while try await chainer.chainPending() > 0 {}
    }

    static func dispatcher(
        _ database: Database, sink: any AuditSink, cursors: AuditSinkCursors? = nil, clock: any WallClock = TestClock(),
        batchSize: Int = 100, logger: Logger = logger
    ) -> AuditSinkDispatcher {
        AuditSinkDispatcher(
            name: "default", sink: sink, cursors: cursors ?? AuditSinkCursors(database: database, clock: clock),
            feed: AuditFeed(database: database, logger: logger), clock: clock,
            backoff: Backoff(base: .milliseconds(20), cap: .milliseconds(100)), batchSize: batchSize, logger: logger)
    }

    /// The lines of `path` and its rotated files, oldest first.
    static func lines(_ path: String) throws -> [String] {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let base = URL(fileURLWithPath: path).lastPathComponent
        let rotated = try FileManager.default.contentsOfDirectory(atPath: directory)
            .compactMap { name -> Int? in name.hasPrefix(base + ".") ? Int(name.dropFirst(base.count + 1)) : nil }
            .sorted(by: >)
        var lines: [String] = []
        for file in rotated.map({ "\(path).\($0)" }) + [path] where FileManager.default.fileExists(atPath: file) {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.isEmpty || text.hasSuffix("\n"), "\(file) ends inside a line")
            lines += text.split(separator: "\n").map(String.init)
        }
        return lines
    }

    /// The chain's sequences in `lines` (CloudEvents `sequence`, or OCSF `metadata.sequence`).
    static func sequences(_ lines: [String]) throws -> [Int64] {
        try lines.map { line in
            let value = try JSONValue.parse(line)
            return try #require(value["sequence"]?.intValue ?? value["metadata"]?["sequence"]?.intValue)
        }
    }

    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("cloudevents: every event once, in order, as chained (the chain verifies from the lines), across rotated files",
          .timeLimit(.minutes(2)))
    func cloudEventsInOrder() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let directory = try TemporaryDirectory()
            let path = directory.missing("airlock.jsonl")
            try await Self.appendAndChain(240, in: database)
            let sink = JSONLinesSink(path: path, format: .cloudevents, maxBytes: 16 * 1024, keep: 1000, logger: Self.logger)
            #expect(try await Self.dispatcher(database, sink: sink).drain() == 240)
            await sink.shutdown()

            let lines = try Self.lines(path)
            #expect(FileManager.default.fileExists(atPath: path + ".2"), "the file was never rotated")
            let feed = AuditFeed(database: database, logger: Self.logger)
            let stored = try await feed.page(after: 0, type: nil, limit: 1000)
            #expect(lines == stored.map { $0.canonicalString() })
            var previous = AuditChain.genesisHash
            for line in lines {
                guard case .object(var event) = try JSONValue.parse(line) else { throw SinkTestFailure("not an object") }
                #expect(event["prevhash"]?.stringValue == previous)
                let hash = try #require(event["hash"]?.stringValue)
                for key in ["sequence", "prevhash", "hash"] { event.removeValue(forKey: key) }
                #expect(AuditChain.hash(prevhash: previous, event: JSONValue.object(event).canonicalString()) == hash)
                previous = hash
            }
        }
    }

    @Test("ocsf: every event's records, in order; a PostgreSQL login's creation is a second, Account Change record",
          .timeLimit(.minutes(2)))
    func ocsfInOrder() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let directory = try TemporaryDirectory()
            let path = directory.missing("airlock.ocsf.jsonl")
            try await Self.appendAndChain(120, in: database)
            let sink = JSONLinesSink(path: path, format: .ocsf, maxBytes: 32 * 1024, keep: 1000, logger: Self.logger)
            #expect(try await Self.dispatcher(database, sink: sink, batchSize: 50).drain() == 120)
            await sink.shutdown()

            let records = try Self.lines(path).map { try JSONValue.parse($0) }
            #expect(records.count == 120 + 24)
            let sequences = try Self.sequences(try Self.lines(path))
            #expect(sequences == sequences.sorted())
            #expect(Set(sequences) == Set(1...120))
            for record in records {
                for key in ["class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"] {
                    #expect(record[key]?.intValue != nil, "`\(key)` missing")
                }
                #expect(record["metadata"]?["version"] == "1.8.0")
                #expect(record["metadata"]?["product"]?["name"] == "Airlock")
                #expect(record["metadata"]?["product"]?["version"] == .string(AirlockVersion.current))
            }
            let accounts = records.filter { $0["class_uid"] == 3001 }
            #expect(accounts.count == 24)
            #expect(accounts.allSatisfy { $0["activity_id"] == 1 && $0["user"]?["name"]?.stringValue?.hasPrefix("airlock_readonly_") == true })
            #expect(records.filter { $0["class_uid"] == 3005 }.count == 24)
        }
    }

    @Test("a restart resumes from the cursor: every event once, in order, nothing lost", .timeLimit(.minutes(2)))
    func restartResumes() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let directory = try TemporaryDirectory()
            let path = directory.missing("airlock.jsonl")
            try await Self.appendAndChain(30, in: database)
            let first = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
            let running = Self.dispatcher(database, sink: first, clock: SystemWallClock(), batchSize: 7)
            let task = Task { await running.run(fallback: .milliseconds(50)) { true } }
            let cursors = AuditSinkCursors(database: database)
            // Written and recorded (the cursor moves just after the lines are synced).
            #expect(try await Self.eventually(20) { try await cursors.position("default", logger: Self.logger) == 30 })
            #expect(try Self.lines(path).count == 30)
            task.cancel()  // a graceful stop: the claim is given up
            await task.value
            await first.shutdown()

            try await Self.appendAndChain(30, startingAt: 30, in: database)
            let second = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
            let restarted = Self.dispatcher(database, sink: second, clock: SystemWallClock(), batchSize: 7)
            let again = Task { await restarted.run(fallback: .milliseconds(50)) { true } }
            #expect(try await Self.eventually(20) { try await cursors.position("default", logger: Self.logger) == 60 })
            again.cancel()
            await again.value
            await second.shutdown()
            #expect(try Self.sequences(try Self.lines(path)) == Array(1...60))
        }
    }

    /// Writes through `inner`, then fails as if the broker died before recording the cursor.
    final class DiesAfterWriting: AuditSink {
        let inner: JSONLinesSink
        init(_ inner: JSONLinesSink) { self.inner = inner }
        var destination: String { inner.destination }
        func write(_ events: [JSONValue]) async throws {
            try await inner.write(events)
            throw SinkTestFailure("the broker died before the cursor moved")
        }
    }

    @Test("a crash between the write and the cursor: the same events again, identical, then nothing lost",
          .timeLimit(.minutes(2)))
    func crashWritesAgain() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let directory = try TemporaryDirectory()
            let path = directory.missing("airlock.jsonl")
            try await Self.appendAndChain(10, in: database)
            let clock = TestClock()
            let sink = JSONLinesSink(path: path, format: .ocsf, logger: Self.logger)
            let dead = Self.dispatcher(database, sink: DiesAfterWriting(sink), clock: clock)
            await #expect(throws: (any Error).self) { try await dead.drain() }
            let written = try Self.lines(path)
            #expect(try Set(Self.sequences(written)) == Set(1...10))

            // The broker starts again (another claimant): its old claim holds until it lapses.
            try await Self.appendAndChain(5, startingAt: 10, in: database)
            let restarted = Self.dispatcher(database, sink: sink, clock: clock)
            #expect(try await restarted.drain() == 0)
            clock.advance(31)
            #expect(try await restarted.drain() == 15)
            await sink.shutdown()
            let lines = try Self.lines(path)
            #expect(Array(lines[written.count..<(2 * written.count)]) == written)  // the same lines again, byte for byte
            #expect(try Set(Self.sequences(Array(lines[(2 * written.count)...]))) == Set(11...15))
        }
    }

    @Test("a sink that cannot write logs a clear error, retries with backoff, and catches up once it can",
          .timeLimit(.minutes(2)))
    func retriesWithBackoff() async throws {
        try await TestDatabase.withDatabase { database async throws in
            let directory = try TemporaryDirectory()
            let missing = directory.missing("mounted-later")
            let path = missing + "/airlock.jsonl"
            try await Self.appendAndChain(12, in: database)
            let logs = CapturedLogs()
            let sink = JSONLinesSink(path: path, format: .cloudevents, logger: logs.logger())
            let dispatcher = Self.dispatcher(database, sink: sink, clock: SystemWallClock(), logger: logs.logger())
            let task = Task { await dispatcher.run(fallback: .seconds(30)) { true } }
            #expect(try await Self.eventually(20) { dispatcher.consecutiveFailures >= 3 })
            let errors = logs.all.filter { $0.contains("audit sink cannot write") }
            #expect(errors.count >= 3)
            #expect(errors.first?.hasPrefix("error ") == true)
            #expect(errors.first?.contains("cannot write the audit sink: open `\(path)`: No such file or directory") == true,
                    "\(errors.first ?? "no error logged")")

            try FileManager.default.createDirectory(atPath: missing, withIntermediateDirectories: false)
            #expect(try await Self.eventually(20) { (try? Self.lines(path).count) == 12 })
            #expect(try await Self.eventually(5) { dispatcher.consecutiveFailures == 0 })
            #expect(logs.all.contains { $0.contains("audit sink writes again") })
            task.cancel()
            await task.value
            await sink.shutdown()
            #expect(try Self.sequences(try Self.lines(path)) == Array(1...12))
        }
    }

    @Test("through the broker: an issued and revoked PostgreSQL credential reaches the sink, its password never",
          .timeLimit(.minutes(3)), arguments: AuditSinkFormat.allCases)
    func noSecretInTheSink(_ format: AuditSinkFormat) async throws {
        let fixture = try await AccessFlowFixture.make()
        let directory = try TemporaryDirectory()
        let path = directory.missing("airlock.jsonl")
        var config = fixture.config
        var sink = AuditSinkSettings(path: path)
        sink.format = format
        config.settings.auditSink = sink
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-4411"}
                """)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
            let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            let user = try #require(creds.json["username"]?.stringValue, "\(creds.json)")
            let password = try #require(creds.json["password"]?.stringValue)
            let lease = try #require(creds.json["lease_id"]?.stringValue)
            let revoked = try await client.call(.post, "/v1/leases/\(lease)/revoke", token: alice)
            #expect(revoked.status == .ok || revoked.status == .accepted, "\(revoked.json)")

            let dropped = try await Self.eventually(30) {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                return text.contains("airlock.credential.revoked") && text.contains(user)
            }
            #expect(dropped, "the revocation never reached the sink")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains(password), "the password reached the sink")
            #expect(!text.contains(String(password.prefix(16))))
            let lines = try Self.lines(path)
            #expect(try Self.sequences(lines) == Self.sequences(lines).sorted())
            if format == .ocsf {
                let accounts = try lines.map { try JSONValue.parse($0) }.filter { $0["class_uid"] == 3001 }
                #expect(accounts.map { $0["activity_id"] } == [1, 6])
                #expect(accounts.allSatisfy { $0["user"]?["name"]?.stringValue == user })
            }
        }
    }

    @Test("a sink that cannot write never holds up access: requests succeed, the error is logged, events follow later",
          .timeLimit(.minutes(3)))
    func brokenSinkDoesNotBlock() async throws {
        let fixture = try await AccessFlowFixture.make()
        let directory = try TemporaryDirectory()
        let missing = directory.missing("not-mounted")
        let path = missing + "/airlock.jsonl"
        let logs = CapturedLogs()
        var config = fixture.config
        config.logger = logs.logger()
        config.logger.logLevel = .info
        config.settings.auditSink = AuditSinkSettings(path: path)
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            #expect(try await Self.eventually(20) { logs.all.contains { $0.contains("audit sink cannot write") } })
            let started = ContinuousClock.now
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-4411"}
                """)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
            let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            #expect(creds.status == .ok, "\(creds.json)")
            #expect(ContinuousClock.now - started < .seconds(10))

            try FileManager.default.createDirectory(atPath: missing, withIntermediateDirectories: false)
            let caughtUp = try await Self.eventually(90) {
                ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("airlock.credential.issued")
            }
            #expect(caughtUp, "the sink never caught up")
        }
    }
}

/// A failure a test raises on purpose.
struct SinkTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
