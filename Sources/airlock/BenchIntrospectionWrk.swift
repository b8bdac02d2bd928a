import Foundation

/// `airlock bench introspection --wrk`: the load made by `wrk` (a C load generator, far cheaper per request than
/// the built-in NIO client, so more of the two cores is left to the broker) instead of the built-in workers.
///
/// The tokens go into a Lua script in a private temporary directory (mode 0700, the script 0600), removed at the
/// end; they never appear on a command line or in the output.
enum BenchIntrospectionWrk {
    /// What `wrk --latency` reports.
    struct Result: Sendable {
        var requests: Int
        var seconds: Double
        var perSecond: Double
        var p50: Double
        var p99: Double
        var failures: Int
    }

    /// Runs `wrk` with `threads` threads and `concurrency` connections for `seconds` against the broker on `port`,
    /// each request introspecting the next of `tokens` with `introspector`.
    static func run(
        port: Int, introspector: String, tokens: [String], concurrency: Int, threads: Int, seconds: Double
    ) throws -> Result {
        guard let wrk = executable("wrk") else {
            throw BenchIssuanceError("wrk is not installed (apt-get install wrk), or run without --wrk")
        }
        var template = Array("/tmp/airlock-bench-wrk-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchIssuanceError("cannot create a temporary directory") }
        let directory = URL(fileURLWithPath: String(cString: made))
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("introspect.lua")
        let fd = open(script.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw BenchIssuanceError("cannot write the wrk script") }
        let written = Data(lua(introspector: introspector, tokens: tokens).utf8).withUnsafeBytes { bytes in
            write(fd, bytes.baseAddress, bytes.count) == bytes.count
        }
        close(fd)
        guard written else { throw BenchIssuanceError("cannot write the wrk script") }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = [
            "-t\(threads)", "-c\(concurrency)", "-d\(Int(seconds.rounded(.up)))s", "--latency", "-s", script.path,
            "http://127.0.0.1:\(port)/v1/tokens/introspect",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0, let result = parse(text) else {
            // wrk's own output; withheld if it could quote the script (a Lua error names the text near it).
            let shown = text.contains("alk") ? "(output withheld: it may quote a token)" : String(text.prefix(400))
            throw BenchIssuanceError("wrk failed (exit \(process.terminationStatus)): \(shown)")
        }
        return result
    }

    /// A script that sends `POST` with a JSON body, cycling through `tokens` (each request prepared once).
    static func lua(introspector: String, tokens: [String]) -> String {
        let bodies = tokens.map { "  wrk.format(nil, nil, nil, '{\"token\":\"\($0)\"}')," }.joined(separator: "\n")
        return """
            wrk.method = "POST"
            wrk.headers["Authorization"] = "Bearer \(introspector)"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Accept"] = "application/json"
            local prepared = nil
            local index = 0
            request = function()
              if prepared == nil then
                prepared = {
            \(bodies)
                }
                index = math.random(#prepared) - 1
              end
              index = (index % #prepared) + 1
              return prepared[index]
            end

            """
    }

    /// Reads requests, duration, requests/s, the 50 % and 99 % latencies and the failure counts of `wrk --latency`.
    static func parse(_ text: String) -> Result? {
        var result = Result(requests: 0, seconds: 0, perSecond: 0, p50: 0, p99: 0, failures: 0)
        var found = 0
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if line.hasPrefix("50%"), words.count >= 2, let value = milliseconds(words[1]) {
                result.p50 = value
                found += 1
            } else if line.hasPrefix("99%"), words.count >= 2, let value = milliseconds(words[1]) {
                result.p99 = value
                found += 1
            } else if line.contains("requests in"), let count = Int(words[0]) {
                result.requests = count
                result.seconds = words.count >= 4 ? seconds(words[3].trimmingCharacters(in: [","])) ?? 0 : 0
                found += 1
            } else if line.hasPrefix("Requests/sec:"), words.count >= 2, let value = Double(words[1]) {
                result.perSecond = value
                found += 1
            } else if line.hasPrefix("Non-2xx or 3xx responses:"), let count = words.last.flatMap({ Int($0) }) {
                result.failures += count
            } else if line.hasPrefix("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                result.failures += words.compactMap { Int($0.trimmingCharacters(in: [","])) }.reduce(0, +)
            }
        }
        return found == 4 ? result : nil
    }

    /// `wrk`'s latency text (`812.00us`, `1.23ms`, `2.00s`) in milliseconds.
    private static func milliseconds(_ text: String) -> Double? {
        for (unit, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(unit) {
            return Double(text.dropLast(unit.count)).map { $0 * scale }
        }
        return nil
    }

    /// `wrk`'s duration text (`10.01s`, `1.00m`) in seconds.
    private static func seconds(_ text: String) -> Double? {
        if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1000 } }
        if text.hasSuffix("s") { return Double(text.dropLast()) }
        if text.hasSuffix("m") { return Double(text.dropLast()).map { $0 * 60 } }
        return nil
    }

    private static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
