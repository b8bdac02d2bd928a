import AirlockAudit
import AirlockCore
import Foundation
import Logging
import Testing

/// The JSON Lines sink on a real file system: what it writes in each format, how it rotates (whole lines, `keep`
/// files), the mode of the file it creates, the partial line an interrupted write leaves, and errors it reports.
@Suite(.timeLimit(.minutes(1)))
struct JSONLinesSinkTests {
    /// A fresh directory, removed when the test ends.
    final class Directory: Sendable {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory
                .appendingPathComponent("airlock-sink-test-\(UUID().uuidString.lowercased())")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    }

    static var logger: Logger {
        var logger = Logger(label: "airlock.test.sink")
        logger.logLevel = .critical
        return logger
    }

    /// Chained events `first...last`, as the feed reads them (sequence, prevhash, hash), with `padding` bytes of data.
    static func events(_ range: ClosedRange<Int64>, padding: Int = 0) -> [JSONValue] {
        range.map { sequence in
            AuditEventSample.stored(
                NewAuditEvent(type: "airlock.policy.activated", subject: "set-\(sequence)",
                              data: ["number": .int(sequence), "note": .string(String(repeating: "x", count: padding))]),
                sequence: sequence)
        }
    }

    /// The lines of the file at `path` (a trailing newline required: an unterminated last line fails the test).
    static func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        if text.isEmpty { return [] }
        #expect(text.hasSuffix("\n"), "\(path) does not end with a newline")
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    static func sequence(of line: String) throws -> Int64 {
        let value = try JSONValue.parse(line)
        return try #require(value["sequence"]?.intValue ?? value["metadata"]?["sequence"]?.intValue)
    }

    @Test("cloudevents: each event as chained, canonical JSON, one a line, in order")
    func cloudEvents() async throws {
        let directory = try Directory()
        let path = directory.path("airlock.jsonl")
        let sink = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        let events = Self.events(1...3)
        try await sink.write(Array(events[0..<2]))
        try await sink.write([events[2]])
        await sink.shutdown()
        let lines = try Self.lines(path)
        #expect(lines == events.map { $0.canonicalString() })
        #expect(try lines.map { try JSONValue.parse($0) } == events)
        #expect(sink.destination == path)
    }

    @Test("ocsf: each event's OCSF records, one a line; an issued PostgreSQL credential is two")
    func ocsf() async throws {
        let directory = try Directory()
        let path = directory.path("airlock.ocsf.jsonl")
        let sink = JSONLinesSink(path: path, format: .ocsf, productVersion: "9.9.9", logger: Self.logger)
        let issued = try #require(AuditEventSample.all.first { $0.name == "credential.issued (postgres)" }).event
        let requested = try #require(AuditEventSample.all.first { $0.name == "access.requested" }).event
        try await sink.write([requested, issued])
        await sink.shutdown()
        let records = try Self.lines(path).map { try JSONValue.parse($0) }
        #expect(records.map { $0["class_uid"] } == [3004, 3005, 3001])
        #expect(records.allSatisfy { $0["metadata"]?["product"]?["version"] == "9.9.9" })
        #expect(records.allSatisfy { $0["metadata"]?["version"] == "1.8.0" })
    }

    // The umask is not changed here to show the mode is set whatever it is: the umask belongs to the whole test
    // process, and a narrower one meanwhile broke other suites' subprocesses (a PostgreSQL that could not enter its
    // directories).
    @Test("a missing file is created with mode 0640; an existing file keeps its mode")
    func fileMode() async throws {
        let directory = try Directory()
        let path = directory.path("new.jsonl")
        let sink = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        try await sink.write(Self.events(1...1))
        await sink.shutdown()
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o640)

        let existing = directory.path("existing.jsonl")
        FileManager.default.createFile(atPath: existing, contents: nil, attributes: [.posixPermissions: 0o600])
        let other = JSONLinesSink(path: existing, format: .cloudevents, logger: Self.logger)
        try await other.write(Self.events(1...1))
        await other.shutdown()
        #expect(try FileManager.default.attributesOfItem(atPath: existing)[.posixPermissions] as? Int == 0o600)
    }

    @Test("rotation at the size limit: whole lines only, no file past the limit, `keep` rotated files, newest last",
          arguments: [0, 1, 3])
    func rotation(keep: Int) async throws {
        let directory = try Directory()
        let path = directory.path("airlock.jsonl")
        let maxBytes: Int64 = 2000
        let sink = JSONLinesSink(path: path, format: .cloudevents, maxBytes: maxBytes, keep: keep, logger: Self.logger)
        let events = Self.events(1...40, padding: 200)  // about 650 bytes a line: 3 a file
        for batch in stride(from: 0, to: events.count, by: 7) {
            try await sink.write(Array(events[batch..<min(batch + 7, events.count)]))
        }
        await sink.shutdown()

        let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted()
        let expected = ["airlock.jsonl"] + (0..<keep).map { "airlock.jsonl.\($0 + 1)" }
        #expect(names == expected.sorted())
        var sequences: [Int64] = []
        for name in expected.reversed() {  // oldest first
            let file = directory.path(name)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(Int64(size) <= maxBytes, "\(name) is \(size) bytes")
            let lines = try Self.lines(file)
            #expect(!lines.isEmpty, "\(name) is empty")
            sequences += try lines.map(Self.sequence(of:))
        }
        // The newest events, contiguous and in order, ending with the last one written.
        #expect(sequences.last == 40)
        #expect(sequences == Array((41 - Int64(sequences.count))...40))
    }

    @Test("a line longer than the limit is written whole, in a file of its own")
    func oversizedLine() async throws {
        let directory = try Directory()
        let path = directory.path("airlock.jsonl")
        let sink = JSONLinesSink(path: path, format: .cloudevents, maxBytes: 4096, keep: 2, logger: Self.logger)
        try await sink.write(Self.events(1...1))
        try await sink.write(Self.events(2...2, padding: 10_000))
        try await sink.write(Self.events(3...3))
        await sink.shutdown()
        #expect(try Self.lines(directory.path("airlock.jsonl.2")).map(Self.sequence(of:)) == [1])
        #expect(try Self.lines(directory.path("airlock.jsonl.1")).map(Self.sequence(of:)) == [2])
        #expect(try Self.lines(path).map(Self.sequence(of:)) == [3])
    }

    @Test("a partial last line left by an interrupted write is cut off when the file is opened again")
    func partialLine() async throws {
        let directory = try Directory()
        let path = directory.path("airlock.jsonl")
        let events = Self.events(1...3)
        let first = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        try await first.write(Array(events[0..<2]))
        await first.shutdown()
        // A crash in the middle of writing event 3 (its cursor never advanced past 2).
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(String(events[2].canonicalString().prefix(40)).utf8))
        try handle.close()

        let second = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        try await second.write([events[2]])
        await second.shutdown()
        #expect(try Self.lines(path) == events.map { $0.canonicalString() })
    }

    @Test("a file moved away by another tool (logrotate's create mode) is followed by a new file at the path")
    func externalRotation() async throws {
        let directory = try Directory()
        let path = directory.path("airlock.jsonl")
        let sink = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        try await sink.write(Self.events(1...2))
        try FileManager.default.moveItem(atPath: path, toPath: directory.path("airlock.jsonl-20270115"))
        try await sink.write(Self.events(3...4))
        await sink.shutdown()
        #expect(try Self.lines(directory.path("airlock.jsonl-20270115")).map(Self.sequence(of:)) == [1, 2])
        #expect(try Self.lines(path).map(Self.sequence(of:)) == [3, 4])
    }

    @Test("a sink that cannot write throws sink_write_failed naming the path and the cause, and works once it can")
    func cannotWrite() async throws {
        let directory = try Directory()
        let parent = directory.path("not-yet")
        let path = parent + "/airlock.jsonl"
        let sink = JSONLinesSink(path: path, format: .cloudevents, logger: Self.logger)
        do {
            try await sink.write(Self.events(1...1))
            Issue.record("the write to a missing directory succeeded")
        } catch let error as AuditError {
            #expect(error.code == "sink_write_failed")
            #expect(error.message == "cannot write the audit sink: open `\(path)`: No such file or directory")
        }
        FileManager.default.createFile(atPath: parent, contents: Data("a file, not a directory".utf8))
        do {
            try await sink.write(Self.events(1...1))
            Issue.record("the write under a regular file succeeded")
        } catch let error as AuditError {
            #expect(error.message.hasSuffix("Not a directory"), "\(error.message)")
        }
        try FileManager.default.removeItem(atPath: parent)
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        try await sink.write(Self.events(1...1))
        await sink.shutdown()
        #expect(try Self.lines(path).map(Self.sequence(of:)) == [1])
    }
}
