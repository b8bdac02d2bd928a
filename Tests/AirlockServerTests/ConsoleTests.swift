import AirlockCore
@testable import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The approver console over real HTTP: sign-in with PKCE through the dev issuer, the session cookie's flags, the
/// Content-Security-Policy, CSRF on every state change, the once-only credential, and who may see what.
@Suite(.serialized)
struct ConsoleTests {
    /// Every console page a signed-in admin can open, for the header and markup checks.
    static let pages = ["/console", "/console/requests", "/console/approvals", "/console/audit", "/console/admin"]

    @Test("sign-in sets an HttpOnly SameSite=Strict session cookie; every page has a strict CSP, no-store and no inline script or style; nothing secret is logged",
          .timeLimit(.minutes(3)))
    func signInAndHeaders() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let logs = CapturedLogs()
        var config = fixture.config
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let begun = try await client.console(.get, "/console/signin?return_to=//evil.example/x")
            let location = try #require(begun.headers[.location])
            let query = Dictionary(uniqueKeysWithValues: (URLComponents(string: location)?.queryItems ?? []).map {
                ($0.name, $0.value ?? "")
            })
            #expect(location.hasPrefix(fixture.base + "/v1/dev/authorize?"))
            #expect(query["code_challenge_method"] == "S256" && query["code_challenge"]?.count == 43)
            #expect(query["redirect_uri"] == fixture.base + "/console/callback" && query["client_id"] == "airlock")
            #expect((query["state"]?.count ?? 0) >= 43 && (query["nonce"]?.count ?? 0) >= 32)
            let stateCookie = try #require(ConsoleCookies.setCookie("airlock_signin", in: begun.headers))
            #expect(stateCookie.contains("HttpOnly") && stateCookie.contains("Path=/console/callback"))

            let browser = try await client.signIn("root", groups: ["airlock-admins", "sre"], returnTo: "//evil.example/x")
            // The sign-in answered with the session cookie: HttpOnly, SameSite=Strict, only for /console, and not
            // Secure on plain http loopback (the unit test below covers https).
            let flags = browser.sessionCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(flags.contains("HttpOnly") && flags.contains("SameSite=Strict") && flags.contains("Path=/console"))
            #expect(!flags.contains("Secure"))
            // The return path was not another site: the landing page sends the browser to /console.
            #expect(browser.landing.contains("content=\"0;url=/console\"") && !browser.landing.contains("evil.example"))
            for page in Self.pages {
                let answer = try await client.console(.get, page, headers: browser.cookie)
                #expect(answer.status == .ok, "\(page): \(answer.status)")
                let policy = try #require(answer.headers[HTTPField.Name("Content-Security-Policy")!])
                #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'")
                        && policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"))
                #expect(answer.headers[.cacheControl] == "no-store")
                #expect(answer.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                // Not no-referrer: under it the browser's own forms carry `Origin: null` and are refused.
                #expect(answer.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
                #expect(!Self.hasInlineScriptOrStyle(answer.text), "\(page) has inline script or style")
            }
            #expect(!logs.text.contains(browser.session) && !logs.text.contains(browser.csrf))
        }
    }

    /// Whether `html` has a `<script>` without `src`, a `<style>` element, a `style=` attribute or an `on…=`
    /// handler: what the CSP would refuse.
    static func hasInlineScriptOrStyle(_ html: String) -> Bool {
        let lower = html.lowercased()
        if lower.contains("<style") || lower.contains(" style=") { return true }
        if lower.range(of: #"<script(?![^>]*\bsrc=)[^>]*>"#, options: .regularExpression) != nil { return true }
        return lower.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) != nil
    }

    @Test("cookies are Secure unless the console is plain http on loopback")
    func secureCookies() async throws {
        func cookie(_ url: String) -> String {
            let settings = ConsoleSettings(
                publicURL: url, issuer: "i", clientID: "c",
                authorizationEndpoint: "https://idp.example.com/a", tokenEndpoint: "https://idp.example.com/t")
            let sessions = ConsoleSessions(
                store: ConsoleSessionStore(database: Database(url: try! DatabaseURL("postgres://u@127.0.0.1:1/d"), logger: TestDatabase.logger), logger: TestDatabase.logger),
                settings: settings, clock: SystemWallClock())
            return sessions.setCookie("airlock_session", "v", path: "/console", maxAge: 60, sameSite: "Strict")
        }
        #expect(cookie("https://airlock.example.com").hasSuffix("; Secure"))
        #expect(cookie("http://localhost:8420").contains("HttpOnly") && !cookie("http://localhost:8420").contains("Secure"))
        #expect(cookie("http://127.0.0.1:8420").contains("SameSite=Strict") && !cookie("http://127.0.0.1:8420").contains("Secure"))
    }

    @Test("a state change without the session's CSRF token, with another session's, or from another origin is refused and records nothing",
          .timeLimit(.minutes(3)))
    func csrf() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let alice = try await client.signIn("alice", groups: ["sre"])
            let bob = try await client.signIn("bob", groups: ["backend"])
            let ask: [(String, String)] = [
                ("resource_role", "orders-db readonly"), ("ttl_minutes", "30"), ("reason", "INC-7"),
            ]
            let missing = try await client.console(.post, "/console/ask", headers: alice.cookie, form: ask)
            let foreign = try await client.console(.post, "/console/ask", headers: alice.cookie, form: ask + [("csrf", bob.csrf)])
            var crossOrigin = alice.cookie
            crossOrigin[HTTPField.Name("Origin")!] = "http://evil.example"
            let fromElsewhere = try await client.console(.post, "/console/ask", headers: crossOrigin, form: ask + [("csrf", alice.csrf)])
            var crossSite = alice.cookie
            crossSite[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            let fromSite = try await client.console(.post, "/console/ask", headers: crossSite, form: ask + [("csrf", alice.csrf)])
            // An opaque origin (a sandboxed frame, a `data:` page) is not the console's either.
            var opaque = alice.cookie
            opaque[HTTPField.Name("Origin")!] = "null"
            let fromNowhere = try await client.console(.post, "/console/ask", headers: opaque, form: ask + [("csrf", alice.csrf)])
            for refused in [missing, foreign, fromElsewhere, fromSite, fromNowhere] {
                #expect(refused.status == .forbidden, "\(refused.text)")
            }
            let token = try await fixture.flow.token("alice", groups: ["sre"], mfa: true)
            let before = try await client.call(.get, "/v1/access-requests?status=approved&mine=true", token: token)
            #expect(before.json["items"]?.arrayValue?.isEmpty == true)
            // The same form from the session's own page goes through.
            let done = try await client.console(.post, "/console/ask", headers: alice.cookie, form: ask + [("csrf", alice.csrf)])
            #expect(done.status == .ok && done.text.contains("Permitted"), "\(done.text)")
            let after = try await client.call(.get, "/v1/access-requests?status=approved&mine=true", token: token)
            #expect(after.json["items"]?.arrayValue?.count == 1)
            // An unknown field, and a body over 16 KiB, change nothing either.
            let unknown = try await client.console(.post, "/console/ask", headers: alice.cookie, form: ask + [("csrf", alice.csrf), ("principal", "bob")])
            #expect(unknown.status == .badRequest)
            let huge = try await client.console(.post, "/console/ask", headers: alice.cookie, form: ask + [("csrf", alice.csrf), ("ticket", String(repeating: "x", count: 20_000))])
            #expect(huge.status == .contentTooLarge)
        }
    }

    @Test("the credential is shown once on a no-store page and never logged; picking it up again is refused",
          .timeLimit(.minutes(3)))
    func onceOnlyCredential() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let logs = CapturedLogs()
        var config = fixture.config
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let alice = try await client.signIn("alice", groups: ["sre"])
            let asked = try await client.console(.post, "/console/ask", headers: alice.cookie, form: [
                ("resource_role", "orders-db readonly"), ("ttl_minutes", "30"), ("reason", "INC-7"), ("csrf", alice.csrf),
            ])
            let action = try #require(asked.text.range(of: #"/console/requests/[0-9a-f-]{36}/pickup"#, options: .regularExpression))
            let pickup = String(asked.text[action])
            let first = try await client.console(.post, pickup, headers: alice.cookie, form: [("csrf", alice.csrf)])
            #expect(first.status == .ok)
            #expect(first.headers[.cacheControl] == "no-store")
            let password = try #require(Self.secret("password", in: first.text), "\(first.text)")
            #expect(password.count >= 20)
            let second = try await client.console(.post, pickup, headers: alice.cookie, form: [("csrf", alice.csrf)])
            #expect(second.status == .gone && !second.text.contains(password))
            let mine = try await client.console(.get, "/console/requests", headers: alice.cookie)
            #expect(!mine.text.contains(password))
            #expect(!logs.text.contains(password))
        }
    }

    @Test("someone else's request is not found: its page, its pickup, its approval by a non-approver; it is not in their status poll; hostile ids are not found",
          .timeLimit(.minutes(3)))
    func otherPeoplesRequests() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let alice = try await client.signIn("alice", groups: ["sre"])
            let asked = try await client.console(.post, "/console/ask", headers: alice.cookie, form: [
                ("resource_role", "orders-db readonly"), ("ttl_minutes", "30"), ("reason", "INC-7"), ("csrf", alice.csrf),
            ])
            let action = try #require(asked.text.range(of: #"/console/requests/[0-9a-f-]{36}"#, options: .regularExpression))
            let page = String(asked.text[action])
            let id = String(page.dropFirst("/console/requests/".count))

            let mallory = try await client.signIn("mallory", groups: ["backend"])
            #expect(try await client.console(.get, page, headers: mallory.cookie).status == .notFound)
            let pickup = try await client.console(.post, page + "/pickup", headers: mallory.cookie, form: [("csrf", mallory.csrf)])
            #expect(pickup.status == .notFound && !pickup.text.contains("password"))
            let approve = try await client.console(.post, page + "/approve", headers: mallory.cookie, form: [("csrf", mallory.csrf)])
            #expect(approve.status == .notFound || approve.status == .forbidden, "\(approve.status)")
            let status = try await client.console(.get, "/console/status.json", headers: mallory.cookie)
            #expect(status.status == .ok && !status.text.contains(id))
            for hostile in ["/console/requests/..%2F..%2Fv1%2Ftokens", "/console/requests/%00", "/console/requests/"
                                + String(repeating: "a", count: 5000), "/console/requests/\(id.uppercased())x"] {
                let answer = try await client.console(.get, hostile, headers: mallory.cookie)
                #expect(answer.status == .notFound, "\(hostile.prefix(60)): \(answer.status)")
            }
            // Alice's own request is still hers to pick up: nothing above touched it.
            let hers = try await client.console(.post, page + "/pickup", headers: alice.cookie, form: [("csrf", alice.csrf)])
            #expect(hers.status == .ok, "\(hers.text)")
        }
    }

    /// The value shown for `field` on the credential page.
    static func secret(_ field: String, in html: String) -> String? {
        guard let label = html.range(of: "<dt>\(field)</dt>"),
              let start = html[label.upperBound...].range(of: "data-secret>")
        else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "<" })
    }

    @Test("sign-in refusals: a state this browser did not start, a used code, a wrong PKCE verifier, another redirect URI or client",
          .timeLimit(.minutes(3)))
    func signInRefusals() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let begun = try await client.console(.get, "/console/signin")
            let location = try #require(begun.headers[.location])
            let state = try #require(ConsoleCookies.cookieValue("airlock_signin", in: begun.headers))
            let items = try #require(URLComponents(string: location)?.queryItems)
            let form = items.map { ($0.name, $0.value ?? "") } + [("user", "alice"), ("groups", "sre"), ("mfa", "1")]
            // The provider refuses another redirect URI or client.
            let otherRedirect = form.map { $0.0 == "redirect_uri" ? ($0.0, "http://evil.example/cb") : $0 }
            #expect(try await client.console(.post, "/v1/dev/authorize", form: otherRedirect).status == .badRequest)
            let otherClient = form.map { $0.0 == "client_id" ? ($0.0, "someone-else") : $0 }
            #expect(try await client.console(.post, "/v1/dev/authorize", form: otherClient).status == .badRequest)
            let noPKCE = form.filter { $0.0 != "code_challenge" }
            #expect(try await client.console(.post, "/v1/dev/authorize", form: noPKCE).status == .badRequest)

            let authorized = try await client.console(.post, "/v1/dev/authorize", form: form)
            let callback = try #require(authorized.headers[.location])
            let components = try #require(URLComponents(string: callback))
            let code = try #require(components.queryItems?.first { $0.name == "code" }?.value)
            let path = components.path + "?" + (components.percentEncodedQuery ?? "")
            // Without the state cookie (another browser), or with another state, the callback refuses.
            #expect(try await client.console(.get, path).status == .badRequest)
            #expect(try await client.console(.get, path, headers: [.cookie: "airlock_signin=\(String(repeating: "A", count: 43))"]).status == .badRequest)
            // A wrong verifier at the token endpoint: invalid_grant, and the code is spent.
            let wrong = try await client.console(.post, "/v1/dev/token", form: [
                ("grant_type", "authorization_code"), ("code", code), ("client_id", "airlock"),
                ("redirect_uri", fixture.base + "/console/callback"), ("code_verifier", String(repeating: "v", count: 64)),
            ])
            #expect(wrong.status == .badRequest && wrong.text.contains("invalid_grant"))
            // The state was not spent by the refused callbacks, but the code was: the sign-in fails, no session.
            let spent = try await client.console(.get, path, headers: [.cookie: "airlock_signin=\(state)"])
            #expect(spent.status == .unauthorized)
            #expect(ConsoleCookies.cookieValue("airlock_session", in: spent.headers) == nil)
            // And the state is spent now too.
            let replay = try await client.console(.get, path, headers: [.cookie: "airlock_signin=\(state)"])
            #expect(replay.status == .badRequest)
        }
    }

    @Test("without a session pages send the browser to sign in and changes are refused; a made-up session cookie is no session; roles come from the configured groups",
          .timeLimit(.minutes(3)))
    func sessionsAndRoles() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let anonymous = try await client.console(.get, "/console/approvals")
            #expect(anonymous.status == .seeOther && anonymous.headers[.location] == "/console/signin?return_to=%2Fconsole%2Fapprovals")
            let forged: HTTPFields = [.cookie: "airlock_session=\(String(repeating: "a", count: 43))"]
            #expect(try await client.console(.get, "/console", headers: forged).status == .seeOther)
            #expect(try await client.console(.get, "/console/status.json", headers: forged).status == .unauthorized)
            #expect(try await client.console(.post, "/console/admin/revoke-all", headers: forged, form: [("principal", "bob")]).status == .unauthorized)

            let alice = try await client.signIn("alice", groups: ["sre"])
            #expect(try await client.console(.get, "/console/audit", headers: alice.cookie).status == .forbidden)
            #expect(try await client.console(.get, "/console/admin", headers: alice.cookie).status == .forbidden)
            let refused = try await client.console(.post, "/console/admin/revoke-all", headers: alice.cookie, form: [
                ("principal", "bob"), ("csrf", alice.csrf),
            ])
            #expect(refused.status == .forbidden)
            let auditor = try await client.signIn("ada", groups: ["auditors"])
            #expect(try await client.console(.get, "/console/audit", headers: auditor.cookie).status == .ok)
            #expect(try await client.console(.get, "/console/admin", headers: auditor.cookie).status == .forbidden)

            // Signing out ends the session: its cookie is no session afterwards.
            let out = try await client.console(.post, "/console/signout", headers: alice.cookie, form: [("csrf", alice.csrf)])
            #expect(out.status == .ok)
            #expect(try await client.console(.get, "/console", headers: alice.cookie).status == .seeOther)
        }
    }

    @Test("an approver sees the request with its context and approves it; the requester's own approval is refused in the page",
          .timeLimit(.minutes(3)))
    func approvals() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await fixture.ready(client)
            let bob = try await client.signIn("bob", groups: ["backend", "db-owners"])
            let asked = try await client.console(.post, "/console/ask", headers: bob.cookie, form: [
                ("resource_role", "orders-db readwrite"), ("ttl_minutes", "20"), ("reason", "fix <b>order</b> 42"),
                ("csrf", bob.csrf),
            ])
            #expect(asked.status == .ok && asked.text.contains("Waiting for approval"), "\(asked.text)")
            let mine = try await client.console(.get, "/console/requests", headers: bob.cookie)
            let link = try #require(mine.text.range(of: #"/console/requests/[0-9a-f-]{36}"#, options: .regularExpression))
            let request = String(mine.text[link])
            // Bob's own queue does not offer his request; approving it anyway is refused.
            let own = try await client.console(.get, "/console/approvals", headers: bob.cookie)
            #expect(!own.text.contains(request + "/approve"))
            let selfApproval = try await client.console(.post, request + "/approve", headers: bob.cookie, form: [
                ("comment", ""), ("csrf", bob.csrf),
            ])
            #expect(selfApproval.status == .forbidden && selfApproval.text.contains("own"), "\(selfApproval.text)")

            let carol = try await client.signIn("carol", groups: ["db-owners"])
            let queue = try await client.console(.get, "/console/approvals", headers: carol.cookie)
            #expect(queue.text.contains(request + "/approve"))
            // The requester's words are text, never markup.
            #expect(queue.text.contains("fix &lt;b&gt;order&lt;/b&gt; 42") && !queue.text.contains("<b>order</b>"))
            #expect(queue.text.contains("Peers with this access") && queue.text.contains("Risk"))
            let approved = try await client.console(.post, request + "/approve", headers: carol.cookie, form: [
                ("comment", "looks right"), ("csrf", carol.csrf),
            ])
            #expect(approved.status == .ok && approved.text.contains("You approved"), "\(approved.text)")
            let status = try await client.console(.get, "/console/status.json", headers: bob.cookie)
            #expect(status.text.contains("pending_approval"))
        }
    }
}

