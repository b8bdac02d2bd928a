import AirlockLocalCluster
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11 item 12: `airlock dev` and `airlock bench issuance` on a shared machine. The PostgreSQL they start does
/// not inherit the caller's secrets, the lock file is not a path anyone can plant a symbolic link at, and a signal
/// leaves no cluster running and no directory behind.
@Suite(.serialized)
struct DevHygieneTests {
    /// A scratch directory for one test, with a private runtime directory (`XDG_RUNTIME_DIR`) inside.
    final class Scratch: Sendable {
        let root: URL
        let runtime: URL
        var state: URL { root.appendingPathComponent("state") }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-hygiene-\(UUID().uuidString)")
            runtime = root.appendingPathComponent("run")
            try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
            chmod(runtime.path, 0o700)
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    /// The private runtime directory of a child started without `XDG_RUNTIME_DIR` in its environment.
    static var runtimeDirectory: String {
        if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return runtime + "/airlock"
        }
        return "/tmp/airlock-\(geteuid())"
    }

    static let secretMasterKey = "akek1_" + String(repeating: "Q", count: 43)
    static let secretToken = "alk_hygienecanary0123456789"

    @Test(.timeLimit(.minutes(3)))
    func postgresStartedByDevInheritsNoSecret() async throws {
        let scratch = try Scratch()
        let port = try FreePort.find()
        let dev = try AirlockBinary.start(
            ["dev", "--port", "\(port)", "--json", "--state-dir", scratch.state.path],
            environment: [
                "AIRLOCK_MASTER_KEY": Self.secretMasterKey, "AIRLOCK_TOKEN": Self.secretToken,
                "HYGIENE_CANARY": "not-for-postgres", "XDG_RUNTIME_DIR": scratch.runtime.path,
            ])
        defer { Self.stop(dev, leftovers: scratch.state) }
        _ = try #require(try await dev.firstLine(upTo: .seconds(120)), "no JSON line; stderr: \(dev.errors)")

        let data = scratch.state.appendingPathComponent("postgres/data")
        let pid = try #require(Self.postmasterPID(data), "no postmaster.pid in \(data.path)")
        let environment = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/environ"))
        let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(!variables.isEmpty)
        let leaked = variables.filter {
            $0.hasPrefix("AIRLOCK_") || $0.hasPrefix("HYGIENE_CANARY=")
                || $0.contains(Self.secretMasterKey) || $0.contains(Self.secretToken)
        }
        #expect(leaked.isEmpty, "the postmaster inherited \(leaked.map { $0.prefix(while: { $0 != "=" }) })")

        dev.process.interrupt()
        #expect(try await dev.wait(upTo: .seconds(60)) == 0, "stderr: \(dev.errors)")
    }

    @Test(.timeLimit(.minutes(3)))
    func aSymbolicLinkAtTheLockPathIsNotFollowed() async throws {
        let scratch = try Scratch()
        let port = try FreePort.find()
        let victim = scratch.root.appendingPathComponent("victim")
        try Data("precious\n".utf8).write(to: victim)
        // Where the lock lives now (the private runtime directory) and where it used to (a fixed /tmp name).
        let privateDirectory = scratch.runtime.appendingPathComponent("airlock")
        try FileManager.default.createDirectory(at: privateDirectory, withIntermediateDirectories: false)
        chmod(privateDirectory.path, 0o700)
        let planted = [privateDirectory.appendingPathComponent("dev-\(port).lock").path, "/tmp/airlock-dev-\(port).lock"]
        for path in planted {
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim.path)
        }
        defer { unlink(planted[1]) }

        let dev = try AirlockBinary.start(
            ["dev", "--port", "\(port)", "--state-dir", scratch.state.path],
            environment: ["XDG_RUNTIME_DIR": scratch.runtime.path])
        defer { Self.stop(dev, leftovers: scratch.state) }
        let status = try await dev.wait(upTo: .seconds(30))
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious\n", "the lock was written through the link")
        #expect(status != nil && status != 0, "airlock dev started with a symbolic link at its lock path")
        #expect(dev.errors.contains("symbolic link"), "stderr: \(dev.errors)")
    }

    @Test(.timeLimit(.minutes(4)), arguments: [SIGTERM, SIGHUP, SIGINT])
    func aSignalToBenchIssuanceLeavesNoClusterAndNoDirectory(signal: Int32) async throws {
        let scratch = try Scratch()
        let bench = try AirlockBinary.start(
            ["bench", "issuance", "--requests", "100000", "--concurrency", "1", "--verify", "0"],
            environment: ["XDG_RUNTIME_DIR": scratch.runtime.path])
        let directory = try await Self.clusterDirectory(of: bench, after: "warming up")
        defer { Self.stop(bench, leftovers: directory) }
        #expect(!DevCommandTests.postgresProcesses(mentioning: directory.path).isEmpty, "no cluster to stop")

        kill(bench.process.processIdentifier, signal)
        let status = try await bench.wait(upTo: .seconds(90))
        #expect(status != nil, "still running after the signal")
        #expect(DevCommandTests.postgresProcesses(mentioning: directory.path).isEmpty, "PostgreSQL left running")
        #expect(!FileManager.default.fileExists(atPath: directory.path), "\(directory.path) left behind")
    }

    @Test(.timeLimit(.minutes(3)))
    func sigtermWhileDevStartsLeavesNoClusterAndNoDirectory() async throws {
        let scratch = try Scratch()
        let port = try FreePort.find()
        let dev = try AirlockBinary.start(
            ["dev", "--port", "\(port)", "--state-dir", scratch.state.path],
            environment: ["XDG_RUNTIME_DIR": scratch.runtime.path])
        defer { Self.stop(dev, leftovers: scratch.state) }
        // While the cluster is being made (initdb, start) or the demo data written: before the broker serves.
        _ = try await Self.clusterDirectory(of: dev, after: "starting PostgreSQL")
        kill(dev.process.processIdentifier, SIGTERM)
        let status = try await dev.wait(upTo: .seconds(90))
        #expect(status != nil, "still running after SIGTERM")
        #expect(DevCommandTests.postgresProcesses(mentioning: scratch.state.path).isEmpty, "PostgreSQL left running")
        #expect(!FileManager.default.fileExists(atPath: scratch.state.path), "the state directory was left behind")
        #expect(!FileManager.default.fileExists(
            atPath: scratch.runtime.appendingPathComponent("airlock/dev-\(port).lock").path), "the lock file was left")
    }

    // MARK: Helpers

    /// The directory named by `starting PostgreSQL in DIR ...` on stderr, once `marker` has appeared there too.
    static func clusterDirectory(of running: AirlockBinary.Running, after marker: String) async throws -> URL {
        let deadline = ContinuousClock.now + .seconds(150)
        while ContinuousClock.now < deadline {
            let errors = running.errors
            if errors.contains(marker), let range = errors.range(of: "starting PostgreSQL in ") {
                let rest = errors[range.upperBound...]
                if let end = rest.range(of: " ...") {
                    return URL(fileURLWithPath: String(rest[..<end.lowerBound]))
                }
            }
            if !running.process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        running.kill()
        throw DevBrokerError("`\(marker)` never appeared; stderr: \(running.errors)")
    }

    static func postmasterPID(_ data: URL) -> pid_t? {
        guard let text = try? String(contentsOf: data.appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    /// Ends `running` (Ctrl-C, then SIGKILL) and, should a cluster under `leftovers` still run (the behaviour
    /// these tests catch), stops it, so that a failing test does not leak a server.
    static func stop(_ running: AirlockBinary.Running, leftovers: URL) {
        if running.process.isRunning {
            running.process.interrupt()
            let deadline = ContinuousClock.now + .seconds(60)
            while running.process.isRunning && ContinuousClock.now < deadline { usleep(100_000) }
            running.kill()
        }
        let candidates = [leftovers.appendingPathComponent("postgres/data"), leftovers.appendingPathComponent("data")]
        for data in candidates {
            guard let pid = postmasterPID(data), kill(pid, SIGQUIT) == 0 else { continue }
            // Immediate shutdown: the postmaster takes its backends with it. Wait for it before removing its files.
            let deadline = ContinuousClock.now + .seconds(20)
            while kill(pid, 0) == 0 && ContinuousClock.now < deadline { usleep(100_000) }
        }
        try? FileManager.default.removeItem(at: leftovers)
    }
}
