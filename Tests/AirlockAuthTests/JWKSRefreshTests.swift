import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Synchronization
import Testing

/// A key set source the test scripts: what it serves, whether it fails, and whether fetches wait for
/// ``release()`` (a refresh in progress, held as long as the test likes).
final class ScriptedFetcher: JWKSFetcher {
    private struct State {
        var document = "{\"keys\":[]}"
        var failing = false
        var held = false
        var fetches = 0
        var finished = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func set(_ document: String) { state.withLock { $0.document = document } }
    func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }
    /// Fetches from now on wait until ``release()``.
    func hold() { state.withLock { $0.held = true } }

    /// Lets every waiting fetch (and later ones) go on.
    func release() {
        let waiters = state.withLock { state in
            state.held = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Fetches begun.
    var fetches: Int { state.withLock { $0.fetches } }
    /// Fetches answered (or failed).
    var finished: Int { state.withLock { $0.finished } }

    func fetch(_ url: URL) async throws -> Data {
        state.withLock { $0.fetches += 1 }
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state in
                if state.held { state.waiters.append(continuation) }
                return state.held
            }
            if !wait { continuation.resume() }
        }
        let (document, failing) = state.withLock { state in
            state.finished += 1
            return (state.document, state.failing)
        }
        if failing { throw JWKSFetchError("the identity provider is unreachable") }
        return Data(document.utf8)
    }
}

/// Issue 11 item 7: a refresh never holds up verification, unknown `kid`s cannot starve a rotation, and a key
/// removed at the identity provider stops verifying within a documented bound.
@Suite("JWKS refresh", .timeLimit(.minutes(2)))
struct JWKSRefreshTests {
    let clock = TestClock()
    let fetcher = ScriptedFetcher()
    let url = URL(string: "https://idp.example/jwks")!  // a literal URL: cannot fail

    func authenticator(_ configure: (inout AuthConfiguration) -> Void = { _ in }) throws -> Authenticator {
        var configuration = AuthConfiguration(issuers: [
            IssuerConfiguration(issuer: "https://idp.example", audiences: ["airlock"], jwks: .url(url)),
        ])
        configure(&configuration)
        return try Authenticator(
            configuration: configuration, tokens: nil, clock: clock, fetcher: fetcher, logger: CapturedLogs().logger())
    }

    /// The principal id `key`'s token authenticates as, or the error code.
    func authenticate(_ authenticator: Authenticator, _ key: TestKey) async -> String {
        do {
            let token = try await key.sign(validClaims(clock))
            return try await authenticator.authenticate(authorizationHeader: "Bearer " + token).id
        } catch let error as APIError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    /// Polls `condition` for up to 10 s (a generous bound: it holds within milliseconds on any machine).
    func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<400 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    /// Fails on the code before the fix: keys were re-read only every 300 s, and then every verification waited
    /// for the read.
    @Test("stale keys answer while a refresh runs; the refresh then drops a key the provider removed")
    func refreshRunsInTheBackground() async throws {
        let old = TestKey(kid: "k1")
        let new = TestKey(kid: "k2")
        fetcher.set(TestKey.jwks([old]))
        let authenticator = try authenticator()
        #expect(await authenticate(authenticator, old) == "alice")
        #expect(fetcher.fetches == 1)

        // The provider removes k1; a refresh is due after 60 s and the provider is slow to answer.
        fetcher.set(TestKey.jwks([new]))
        clock.advance(61)
        fetcher.hold()
        defer { fetcher.release() }
        let answer = try await withTimeout(.seconds(10)) { await self.authenticate(authenticator, old) }
        #expect(answer == "alice", "served from the keys in hand while the refresh waits")
        #expect(await eventually { fetcher.fetches == 2 }, "a refresh started")
        #expect(fetcher.finished == 1, "the refresh is still held")
        #expect(try await withTimeout(.seconds(10)) { await self.authenticate(authenticator, old) } == "alice")
        #expect(fetcher.fetches == 2, "callers share the refresh under way")

        fetcher.release()
        #expect(await eventually { await authenticate(authenticator, old) == "unknown_key" })
        #expect(await authenticate(authenticator, new) == "alice")
        // The refresh, then one unknown-kid reload for the removed k1; k2 came with the refresh.
        #expect(fetcher.fetches == 3)
    }

    /// Fails on the code before the fix: unknown kids reloaded at most every 30 s, so the rotated key waited.
    @Test("random kids cannot hold back a rotated key for more than 5 s")
    func unknownKidsDoNotStarveRotation() async throws {
        let current = TestKey(kid: "k1")
        let rotated = TestKey(kid: "k2")
        fetcher.set(TestKey.jwks([current]))
        let authenticator = try authenticator()
        #expect(await authenticate(authenticator, current) == "alice")
        #expect(fetcher.fetches == 1)

        // An attacker sends random kids: one reload, then none for 5 s however many arrive.
        #expect(await authenticate(authenticator, TestKey(kid: "random-1")) == "unknown_key")
        #expect(fetcher.fetches == 2)
        for second in 1...4 {
            clock.advance(1)
            #expect(await authenticate(authenticator, TestKey(kid: "random-\(second + 1)")) == "unknown_key")
        }
        #expect(fetcher.fetches == 2, "refused unknown kids never reload")

        // The provider rotates. Five seconds after the last reload (refused attempts did not move that), the
        // new kid reloads at once and is served.
        fetcher.set(TestKey.jwks([current, rotated]))
        clock.advance(1)
        #expect(await authenticate(authenticator, rotated) == "alice")
        #expect(fetcher.fetches == 3)
        #expect(await authenticate(authenticator, current) == "alice")
    }

    @Test("callers with a new kid share one reload, and all get the key it brings")
    func concurrentUnknownKidsShareOneReload() async throws {
        let current = TestKey(kid: "k1")
        let rotated = TestKey(kid: "k2")
        fetcher.set(TestKey.jwks([current]))
        let authenticator = try authenticator()
        #expect(await authenticate(authenticator, current) == "alice")
        fetcher.set(TestKey.jwks([current, rotated]))
        fetcher.hold()
        let answers = try await withTimeout(.seconds(10)) {
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<5 { group.addTask { await self.authenticate(authenticator, rotated) } }
                #expect(await self.eventually { self.fetcher.fetches == 2 })
                self.fetcher.release()
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(answers == Array(repeating: "alice", count: 5))
        #expect(fetcher.fetches == 2)
    }

    /// Fails on the code before the fix: a failed reload kept the previous keys for ever.
    @Test("with the provider unreachable, keys are used for jwks_max_stale_seconds, then refused until it answers")
    func maximumStaleness() async throws {
        let key = TestKey(kid: "k1")
        fetcher.set(TestKey.jwks([key]))
        let authenticator = try authenticator()
        #expect(await authenticate(authenticator, key) == "alice")
        fetcher.fail(true)
        clock.advance(61)
        #expect(await authenticate(authenticator, key) == "alice")  // stale, refresh fails in the background
        #expect(await eventually { fetcher.finished == 2 })
        clock.advance(599 - 61)
        #expect(await authenticate(authenticator, key) == "alice")
        clock.advance(2)  // 601 s after the last successful read
        #expect(await authenticate(authenticator, key) == "unknown_key")
        #expect(await authenticate(authenticator, key) == "unknown_key")
        let attempts = fetcher.fetches
        // The provider answers again: the next attempt (at most 5 s after the last failure) restores the keys.
        fetcher.fail(false)
        clock.advance(5)
        #expect(await authenticate(authenticator, key) == "alice")
        #expect(fetcher.fetches == attempts + 1)
    }

    @Test("jwks_refresh_seconds and jwks_max_stale_seconds are configurable")
    func configurableSchedule() async throws {
        let key = TestKey(kid: "k1")
        fetcher.set(TestKey.jwks([key]))
        let authenticator = try authenticator { configuration in
            configuration.jwksRefreshSeconds = 10
            configuration.jwksMaxStaleSeconds = 30
        }
        #expect(await authenticate(authenticator, key) == "alice")
        clock.advance(9)
        #expect(await authenticate(authenticator, key) == "alice")
        #expect(fetcher.fetches == 1)
        clock.advance(2)
        fetcher.fail(true)
        #expect(await authenticate(authenticator, key) == "alice")
        #expect(await eventually { fetcher.finished == 2 })
        clock.advance(20)  // 31 s after the last successful read
        #expect(await authenticate(authenticator, key) == "unknown_key")
    }

    @Test("the schedule's settings are read from the auth file and checked", arguments: [
        (#"{"jwks_refresh_seconds": 30, "jwks_max_stale_seconds": 120}"#, true),
        (#"{"jwks_refresh_seconds": 0}"#, false),
        (#"{"jwks_refresh_seconds": 90000}"#, false),
        (#"{"jwks_refresh_seconds": 120, "jwks_max_stale_seconds": 60}"#, false),
        (#"{"jwks_max_stale_seconds": 700000}"#, false),
    ])
    func fileSettings(text: String, valid: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("auth.json", text)
        if valid {
            let configuration = try AuthConfiguration.load(fromFile: path)
            #expect(configuration.jwksRefreshSeconds == 30 && configuration.jwksMaxStaleSeconds == 120)
        } else {
            #expect(throws: AuthConfigurationError.self) { try AuthConfiguration.load(fromFile: path) }
        }
        let defaults = try AuthConfiguration.load(fromFile: try directory.write("empty.json", "{}"))
        #expect(defaults.jwksRefreshSeconds == 60 && defaults.jwksMaxStaleSeconds == 600)
    }
}
