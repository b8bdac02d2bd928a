import AirlockLocalCluster
import AirlockStore
import Foundation

/// Runs the built `airlock` executable, as an operator would, with output captured in files (never pipes:
/// `airlock dev` starts PostgreSQL, which must not inherit a pipe the test waits on).
struct AirlockBinary {
    /// `.build/<config>/airlock`, beside the test bundle.
    static var path: String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let beside = bundleDirectory.appendingPathComponent("airlock").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return Bundle.main.bundleURL.appendingPathComponent("airlock").path
    }

    /// A started process and the files its output goes to.
    final class Running: Sendable {
        // thread-safe for isRunning/terminationStatus/interrupt; the URLs are immutable.
        let process: Process
        let stdout: URL
        let stderr: URL

        init(process: Process, stdout: URL, stderr: URL) {
            self.process = process
            self.stdout = stdout
            self.stderr = stderr
        }

        var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
        var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

        /// Waits for exit, at most `limit`; returns the exit status, or nil if it is still running.
        func wait(upTo limit: Duration) async throws -> Int32? {
            let deadline = ContinuousClock.now + limit
            while process.isRunning {
                if ContinuousClock.now >= deadline { return nil }
                try await Task.sleep(for: .milliseconds(50))
            }
            return process.terminationStatus
        }

        /// Waits until stdout has a complete first line.
        func firstLine(upTo limit: Duration) async throws -> String? {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                let text = output
                if let newline = text.firstIndex(of: "\n") { return String(text[..<newline]) }
                if !process.isRunning { return nil }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }

        /// Ends the process: SIGTERM first, so that `airlock dev` and `airlock bench` stop their cluster and remove
        /// its files (a SIGKILL would leave PostgreSQL running), then SIGKILL if it is still there after 30 s. Returns
        /// at once: the wait runs on a thread of its own, never on one of the two cooperative threads every test
        /// shares.
        func kill() {
            guard process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGTERM)
            Thread.detachNewThread { [self] in
                let deadline = Date().addingTimeInterval(30)
                while process.isRunning && Date() < deadline { usleep(50_000) }
                if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            }
        }
    }

    /// Starts the binary; `workingDirectory` is its working directory (default: the package checkout).
    static func start(
        _ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil
    ) throws -> Running {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stdout = directory.appendingPathComponent("stdout")
        let stderr = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AIRLOCK_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = workingDirectory ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        return Running(process: process, stdout: stdout, stderr: stderr)
    }

    /// Runs to completion (at most `limit`) and returns status, stdout and stderr.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil,
        limit: Duration = .seconds(60)
    ) async throws -> (status: Int32?, output: String, errors: String) {
        let running = try start(arguments, environment: environment, workingDirectory: workingDirectory)
        let status = try await running.wait(upTo: limit)
        if status == nil { running.kill() }
        let result = (status, running.output, running.errors)
        try? FileManager.default.removeItem(at: running.stdout.deletingLastPathComponent())
        return result
    }
}

extension DatabaseURL {
    /// The URL with its password, for handing to a child process in a test.
    var testURLString: String {
        let allowed = CharacterSet.alphanumerics
        let user = username.addingPercentEncoding(withAllowedCharacters: allowed) ?? username
        let auth = password.map { "\(user):\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" } ?? user
        return "postgres://\(auth)@\(host):\(port)/\(database)?sslmode=\(tlsMode.rawValue)"
    }
}

/// A real `airlock dev` for a test: started on a free port, ready, with a fresh `AIRLOCK_HOME` pointed at it.
/// Call ``stop()`` when done (`defer`).
struct DevBroker {
    let running: AirlockBinary.Running
    /// `http://127.0.0.1:PORT`.
    let address: String
    /// The `AIRLOCK_HOME` of the test's client commands (not created: `login` creates it).
    let home: String
    /// The admin token the banner printed.
    let adminToken: String
    /// The broker database URL the banner printed.
    let databaseURL: String

    /// `AIRLOCK_HOME` and `AIRLOCK_ADDR` for client commands against this broker.
    var environment: [String: String] { ["AIRLOCK_HOME": home, "AIRLOCK_ADDR": address] }

    static func start() async throws -> DevBroker {
        let port = try FreePort.find()
        let dev = try AirlockBinary.start(["dev", "--port", "\(port)", "--json"])
        guard let banner = try await dev.firstLine(upTo: .seconds(90)) else {
            dev.kill()
            throw DevBrokerError("no JSON line; stderr: \(dev.errors)")
        }
        let address = "http://127.0.0.1:\(port)"
        guard try await DevCommandTests.waitForStatus(200, url: "\(address)/readyz", upTo: .seconds(30)),
              let fields = try JSONSerialization.jsonObject(with: Data(banner.utf8)) as? [String: Any],
              let admin = fields["admin_token"] as? String, let databaseURL = fields["database_url"] as? String else {
            dev.kill()
            throw DevBrokerError("airlock dev did not become ready; stderr: \(dev.errors)")
        }
        return DevBroker(
            running: dev, address: address, home: ClientCommandTests.home(), adminToken: admin, databaseURL: databaseURL)
    }

    func stop() {
        running.kill()
        try? FileManager.default.removeItem(atPath: home)
    }
}

struct DevBrokerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
