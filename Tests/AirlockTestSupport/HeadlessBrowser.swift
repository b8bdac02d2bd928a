import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Debian's headless Chromium, driven over the Chrome DevTools Protocol on a pipe (`--remote-debugging-pipe`: no
/// port, no WebSocket, nothing another process on the machine could connect to).
///
/// The browser reaches loopback only: every other host goes to a proxy on 127.0.0.1:9, where nothing listens, and
/// Chromium's background services (updates, sync, safe browsing, metrics) are switched off. Its profile is a fresh
/// temporary directory, removed when ``withBrowser(logger:_:)`` returns.
public final class HeadlessBrowser: Sendable {
    /// The Chromium to run: `AIRLOCK_TEST_CHROMIUM`, else `chromium` (Debian's package) or `chromium-browser` on PATH.
    /// `nil` when there is none.
    public static func executable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let chosen = environment["AIRLOCK_TEST_CHROMIUM"], !chosen.isEmpty {
            return FileManager.default.isExecutableFile(atPath: chosen) ? chosen : nil
        }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        for name in ["chromium", "chromium-browser"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    /// Starts a browser, runs `body` with it, and closes it (and removes its profile) however `body` ends.
    public static func withBrowser<Result: Sendable>(
        logger: Logger, _ body: (HeadlessBrowser) async throws -> Result
    ) async throws -> Result {
        let browser = try HeadlessBrowser.launch(logger: logger)
        do {
            let result = try await body(browser)
            await browser.close()
            return result
        } catch {
            logger.error("browser output on failure", metadata: ["output": "\(browser.output())"])
            await browser.close()
            throw error
        }
    }

    let connection: DevToolsConnection
    let process: Process
    let profile: URL
    let logger: Logger

    private init(connection: DevToolsConnection, process: Process, profile: URL, logger: Logger) {
        self.connection = connection
        self.process = process
        self.profile = profile
        self.logger = logger
    }

    static func launch(logger: Logger) throws -> HeadlessBrowser {
        guard let chromium = executable() else { throw BrowserError("no chromium on PATH") }
        // A browser that dies mid-write must fail the test, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        var flags = [
            "--headless", "--remote-debugging-pipe", "--user-data-dir=\(profile.path)",
            "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-extensions", "--disable-sync", "--disable-background-networking", "--disable-component-update",
            "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--no-pings", "--metrics-recording-only", "--safebrowsing-disable-auto-update", "--password-store=basic",
            "--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions",
            "--disable-back-forward-cache", "--window-size=1280,900", "--lang=en-US",
            // Loopback only: Chromium sends loopback around any proxy; everything else meets a closed port.
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        ]
        if getuid() == 0 { flags.append("--no-sandbox") }

        let toBrowser = Pipe()
        let fromBrowser = Pipe()
        let process = Process()
        // The DevTools pipe is the browser's fds 3 (commands in) and 4 (replies out). Foundation's Process closes
        // every other descriptor in the child, so the shell moves the two pipes there and gives the browser nothing
        // else of the test process.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let log = profile.appendingPathComponent("chromium.log").path
        process.arguments = ["-c", "exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >\"$AIRLOCK_BROWSER_LOG\" 2>&1", chromium] + flags
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile.path
        environment["XDG_CONFIG_HOME"] = profile.appendingPathComponent("config").path
        environment["XDG_CACHE_HOME"] = profile.appendingPathComponent("cache").path
        environment["AIRLOCK_BROWSER_LOG"] = log
        for proxy in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy"] {
            environment.removeValue(forKey: proxy)
        }
        process.environment = environment
        process.standardInput = toBrowser
        process.standardOutput = fromBrowser
        try process.run()
        let connection = DevToolsConnection(
            writing: toBrowser.fileHandleForWriting, reading: fromBrowser.fileHandleForReading.fileDescriptor)
        connection.startReading()
        return HeadlessBrowser(connection: connection, process: process, profile: profile, logger: logger)
    }

    /// What Chromium wrote to its stdout and stderr.
    func output() -> String {
        (try? String(contentsOf: profile.appendingPathComponent("chromium.log"), encoding: .utf8)) ?? ""
    }

    /// A new tab, blank, 1280×900, its console recorded.
    public func newPage() async throws -> BrowserPage {
        let created = try await connection.send("Target.createTarget", ["url": "about:blank"])
        guard let target = created["targetId"]?.string else { throw BrowserError("no targetId: \(created)") }
        let attached = try await connection.send("Target.attachToTarget", ["targetId": target, "flatten": true])
        guard let session = attached["sessionId"]?.string else { throw BrowserError("no sessionId: \(attached)") }
        let page = BrowserPage(connection: connection, session: session)
        _ = try await page.command("Page.enable")
        _ = try await page.command("Runtime.enable")
        _ = try await page.command("Log.enable")
        _ = try await page.command(
            "Emulation.setDeviceMetricsOverride",
            ["width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false])
        // A refused resource or inline script is reported to the page's console, where a test can see it. DevTools
        // scripts are not subject to the page's policy, so this one runs even where the page allows no script.
        _ = try await page.command(
            "Page.addScriptToEvaluateOnNewDocument",
            ["source": """
                document.addEventListener('securitypolicyviolation', e =>
                  console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));
                """])
        return page
    }

    func close() async {
        _ = try? await connection.send("Browser.close", [:], timeout: .seconds(5))
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        connection.closeWriting()
        try? FileManager.default.removeItem(at: profile)
    }
}

/// One tab of a ``HeadlessBrowser``.
public struct BrowserPage: Sendable {
    let connection: DevToolsConnection
    let session: String

    /// How long a navigation or a ``waitFor(_:timeout:)`` may take by default.
    public static let patience: Duration = .seconds(10)

    func command(_ method: String, _ parameters: [String: any Sendable] = [:]) async throws -> BrowserJSON {
        try await connection.send(method, parameters, session: session)
    }

    /// Loads `url` and waits for its load event.
    public func navigate(_ url: String) async throws {
        try await waitingForLoad {
            let result = try await command("Page.navigate", ["url": url])
            if let failure = result["errorText"]?.string { throw BrowserError("navigating to \(url): \(failure)") }
        }
    }

    /// The value of the JavaScript expression `script` (a promise is awaited); a thrown exception throws.
    @discardableResult
    public func evaluate(_ script: String) async throws -> BrowserJSON {
        let result = try await command(
            "Runtime.evaluate", ["expression": script, "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] {
            let text = exception["exception"]?["description"]?.string ?? exception["text"]?.string ?? "\(exception)"
            throw BrowserError("script failed: \(text)\n  in: \(script)")
        }
        return result["result"]?["value"] ?? .null
    }

    /// Waits until the JavaScript expression `condition` is true (the page may navigate meanwhile).
    public func waitFor(_ condition: String, timeout: Duration = BrowserPage.patience) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                if try await evaluate("Boolean(\(condition))").bool == true { return }
                lastError = nil
            } catch {
                lastError = error
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let page = (try? await url()) ?? "?"
        throw BrowserError("waited \(timeout) on \(page) for: \(condition)\(lastError.map { " (\($0))" } ?? "")")
    }

    /// Sets the value of the input, textarea or select `selector`, as a user would: focus, value, `input`, `change`.
    /// For a select, `text` is an option's value or its visible text.
    public func fill(_ selector: String, _ text: String) async throws {
        try await evaluate("""
            (() => {
              const field = document.querySelector(\(Self.literal(selector)));
              if (!field) throw new Error('no element matches ' + \(Self.literal(selector)));
              const text = \(Self.literal(text));
              field.focus();
              if (field.tagName === 'SELECT') {
                const option = Array.from(field.options).find(o => o.value === text || o.textContent.trim() === text);
                if (!option) throw new Error('no option ' + text + ' in ' + \(Self.literal(selector)));
                field.value = option.value;
              } else {
                field.value = text;
              }
              field.dispatchEvent(new Event('input', {bubbles: true}));
              field.dispatchEvent(new Event('change', {bubbles: true}));
            })()
            """)
    }

    /// Clicks the element `selector`.
    public func click(_ selector: String) async throws {
        try await evaluate("""
            (() => {
              const element = document.querySelector(\(Self.literal(selector)));
              if (!element) throw new Error('no element matches ' + \(Self.literal(selector)));
              element.click();
            })()
            """)
    }

    /// Clicks `selector` and waits for the page it leads to (after any redirects) to load.
    public func clickAndWaitForNavigation(_ selector: String) async throws {
        try await waitingForLoad { try await click(selector) }
    }

    /// Presses and releases a key that types nothing (`Tab`, `Enter`, `Escape`) where the focus is.
    public func press(_ key: String) async throws {
        let codes = ["Tab": 9, "Enter": 13, "Escape": 27, "Backspace": 8]
        guard let code = codes[key] else { throw BrowserError("no key code for \(key)") }
        let event: [String: any Sendable] = ["key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code]
        _ = try await command("Input.dispatchKeyEvent", event.merging(["type": "rawKeyDown"]) { $1 })
        _ = try await command("Input.dispatchKeyEvent", event.merging(["type": "keyUp"]) { $1 })
    }

    /// The page's HTML as it is now.
    public func html() async throws -> String {
        try await evaluate("document.documentElement.outerHTML").string ?? ""
    }

    /// The page's address.
    public func url() async throws -> String {
        try await evaluate("location.href").string ?? ""
    }

    /// The browser's back button, waiting for the page it goes back to.
    public func goBack() async throws {
        let history = try await command("Page.getNavigationHistory")
        guard let index = history["currentIndex"]?.number.map(Int.init), index > 0,
              let entries = history["entries"]?.array, let entry = entries[index - 1]["id"]?.number else {
            throw BrowserError("nothing to go back to: \(history)")
        }
        try await waitingForLoad { _ = try await command("Page.navigateToHistoryEntry", ["entryId": Int(entry)]) }
    }

    /// A PNG of what the page shows.
    public func screenshot(to path: String) async throws {
        let shot = try await command("Page.captureScreenshot", ["format": "png"])
        guard let encoded = shot["data"]?.string, let data = Data(base64Encoded: encoded) else {
            throw BrowserError("no screenshot")
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Everything the page's console and Chromium's log said for this tab, oldest first.
    public func consoleMessages() async -> [String] {
        connection.messages(of: session)
    }

    /// Runs `action` and waits until a new document has replaced the current one and finished loading. The current
    /// document is marked first: a load event alone could be the previous page's, still loading its script when the
    /// action began.
    func waitingForLoad(_ action: () async throws -> Void) async throws {
        let mark = UUID().uuidString
        _ = try? await evaluate("window.__airlockPage = \(Self.literal(mark))")
        try await action()
        try await waitFor(
            "window.__airlockPage !== \(Self.literal(mark)) && document.readyState === 'complete'", timeout: Self.patience)
    }

    /// `text` as a JavaScript string literal.
    static func literal(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// A JSON value from the browser.
public enum BrowserJSON: Sendable, Equatable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([BrowserJSON])
    case object([String: BrowserJSON])

    public init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if value.decodeNil() {
            self = .null
        } else if let bool = try? value.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? value.decode(Double.self) {
            self = .number(number)
        } else if let string = try? value.decode(String.self) {
            self = .string(string)
        } else if let array = try? value.decode([BrowserJSON].self) {
            self = .array(array)
        } else {
            self = .object(try value.decode([String: BrowserJSON].self))
        }
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var array: [BrowserJSON]? { if case .array(let value) = self { value } else { nil } }
    public subscript(key: String) -> BrowserJSON? { if case .object(let value) = self { value[key] } else { nil } }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): BrowserPage.literal(value)
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let values):
            "{" + values.sorted { $0.key < $1.key }.map { "\(BrowserPage.literal($0.key)):\($0.value)" }
                .joined(separator: ",") + "}"
        }
    }
}

public struct BrowserError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The DevTools protocol on two pipes: NUL-terminated JSON messages, replies matched to commands by id, console
/// output kept per tab.
final class DevToolsConnection: Sendable {
    private enum Outcome {
        case waiting(CheckedContinuation<BrowserJSON, any Error>?)
        case done(Result<BrowserJSON, BrowserError>)
    }

    private struct State {
        var nextID = 1
        var replies: [Int: Outcome] = [:]
        var messages: [String: [String]] = [:]
        var closed: BrowserError?
    }

    private let state = Mutex(State())
    private let writing: FileHandle
    private let reading: Int32
    private let writeLock = Mutex(())

    init(writing: FileHandle, reading: Int32) {
        self.writing = writing
        self.reading = reading
    }

    func startReading() {
        let thread = Thread { [self] in readLoop() }
        thread.name = "airlock.test.devtools"
        thread.start()
    }

    func closeWriting() {
        try? writing.close()
    }

    func messages(of session: String) -> [String] {
        state.withLock { $0.messages[session] ?? [] }
    }

    /// Sends a command and waits for its reply's `result`; a protocol error throws.
    func send(
        _ method: String, _ parameters: [String: any Sendable], session: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> BrowserJSON {
        let id: Int = state.withLock { state in
            defer { state.nextID += 1 }
            state.replies[state.nextID] = .waiting(nil)
            return state.nextID
        }
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if let session { message["sessionId"] = session }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(0)
        do {
            try writeLock.withLock { _ in try writing.write(contentsOf: data) }
        } catch {
            _ = state.withLock { $0.replies.removeValue(forKey: id) }
            throw BrowserError("the browser is gone: \(error)")
        }
        let reply = try await awaitOutcome(timeout: timeout, describedAs: method) { state, continuation in
            Self.install(&state.replies[id], continuation)
        } expire: { state, error in
            Self.finish(&state.replies[id], .failure(error))
        } cleanUp: { state in
            state.replies.removeValue(forKey: id)
        }
        if let error = reply["error"] { throw BrowserError("\(method): \(error)") }
        return reply["result"] ?? .null
    }

    private func awaitOutcome(
        timeout: Duration, describedAs what: String,
        install: @escaping @Sendable (inout State, CheckedContinuation<BrowserJSON, any Error>) -> Void,
        expire: @escaping @Sendable (inout State, BrowserError) -> Void,
        cleanUp: @escaping @Sendable (inout State) -> Void
    ) async throws -> BrowserJSON {
        let timer = Task { [self] in
            try await Task.sleep(for: timeout)
            state.withLock { expire(&$0, BrowserError("no answer to \(what) in \(timeout)")) }
        }
        defer {
            timer.cancel()
            state.withLock { cleanUp(&$0) }
        }
        return try await withCheckedThrowingContinuation { continuation in
            state.withLock { state in
                if let closed = state.closed {
                    continuation.resume(throwing: closed)
                } else {
                    install(&state, continuation)
                }
            }
        }
    }

    private static func install(_ outcome: inout Outcome?, _ continuation: CheckedContinuation<BrowserJSON, any Error>) {
        switch outcome {
        case .done(let result)?: continuation.resume(with: result.mapError { $0 as any Error })
        case .waiting?: outcome = .waiting(continuation)
        case nil: continuation.resume(throwing: BrowserError("nothing is waiting"))
        }
    }

    private static func finish(_ outcome: inout Outcome?, _ result: Result<BrowserJSON, BrowserError>) {
        guard case .waiting(let continuation)? = outcome else { return }
        outcome = .done(result)
        continuation?.resume(with: result.mapError { $0 as any Error })
    }

    private func readLoop() {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            while let end = buffer.firstIndex(of: 0) {
                let message = Data(buffer[0..<end])
                buffer.removeSubrange(0...end)
                if let decoded = try? JSONDecoder().decode(BrowserJSON.self, from: message) {
                    deliver(decoded)
                }
            }
        }
        close(reading)
        state.withLock { state in
            let gone = BrowserError("the browser closed its DevTools pipe")
            state.closed = gone
            for id in state.replies.keys { Self.finish(&state.replies[id], .failure(gone)) }
        }
    }

    private func deliver(_ message: BrowserJSON) {
        if let id = message["id"]?.number {
            state.withLock { Self.finish(&$0.replies[Int(id)], .success(message)) }
            return
        }
        guard let method = message["method"]?.string else { return }
        let session = message["sessionId"]?.string
        let parameters = message["params"] ?? .null
        state.withLock { state in
            if let session, let line = Self.consoleLine(method, parameters) {
                state.messages[session, default: []].append(line)
            }
        }
    }

    private static func consoleLine(_ method: String, _ parameters: BrowserJSON) -> String? {
        switch method {
        case "Runtime.consoleAPICalled":
            let words = parameters["args"]?.array?.map { $0["value"]?.description ?? $0["description"]?.string ?? "" } ?? []
            return "console.\(parameters["type"]?.string ?? "log"): " + words.joined(separator: " ")
        case "Log.entryAdded":
            let entry = parameters["entry"]
            return "\(entry?["source"]?.string ?? "log").\(entry?["level"]?.string ?? ""): \(entry?["text"]?.string ?? "")"
        case "Runtime.exceptionThrown":
            let details = parameters["exceptionDetails"]
            return "exception: \(details?["exception"]?["description"]?.string ?? details?["text"]?.string ?? "")"
        default:
            return nil
        }
    }
}
