import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A broker serving the console, signing people in through the dev issuer's sign-in page (the same wiring as
/// `airlock dev`), over real HTTP.
///
/// The console's sign-in calls the token endpoint at its own public URL, which must be known before the broker is
/// built, while `app.test(.live)` serves on a port of its choosing: the public URL is a loopback proxy's, pointed at
/// the live port by ``ready(_:)``.
struct ConsoleFixture {
    let flow: AccessFlowFixture
    var config: ServerConfiguration
    let proxy: FaultProxy
    var port: Int { proxy.port }

    var base: String { "http://127.0.0.1:\(port)" }

    static func make(policies: String = AccessFlowFixture.policies) async throws -> ConsoleFixture {
        let flow = try await AccessFlowFixture.make(policies: policies)
        var config = flow.config
        let proxy = try FaultProxy()
        config.settings.console = ConsoleSettings.devSignIn(publicURL: "http://127.0.0.1:\(proxy.port)")
        return ConsoleFixture(flow: flow, config: config, proxy: proxy)
    }

    /// Points the public URL at the live broker of `client` and waits until it is ready.
    func ready(_ client: some TestClientProtocol) async throws {
        proxy.forward(toPort: try #require(client.port))
        try await ServerSupport.waitUntilReady(client)
    }
}

/// One browser's worth of console state in a test: its session cookie and the CSRF token of its pages.
struct ConsoleBrowser {
    let session: String
    let csrf: String
    /// The `Set-Cookie` header that carried the session.
    let sessionCookie: String
    /// The page the callback answered (it sends the browser on to the return path).
    let landing: String

    var cookie: HTTPFields { [.cookie: "\(ConsoleSessionsTestNames.session)=\(session)"] }
}

enum ConsoleSessionsTestNames {
    static let session = "airlock_session"
    static let signIn = "airlock_signin"
}

extension TestClientProtocol {
    /// `GET`/`POST` with optional headers and form body; the response's status, headers and text.
    func console(
        _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], form: [(String, String)]? = nil
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, text: String) {
        var all = headers
        var body: ByteBuffer?
        if let form {
            all[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(string: Self.encode(form))
        }
        let response = try await execute(uri: uri, method: method, headers: all, body: body)
        return (response.status, response.headers, String(buffer: response.body))
    }

    static func encode(_ form: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.map {
            ($0.0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "="
                + ($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }

    /// Signs `user` in to the console through the dev sign-in page, as a browser would: the redirect to the
    /// provider, its form, the callback with the state cookie. Returns the session and the CSRF token of its pages.
    func signIn(_ user: String, groups: [String], mfa: Bool = true, returnTo: String? = nil) async throws -> ConsoleBrowser {
        let begun = try await console(
            .get, "/console/signin" + (returnTo.map { "?" + Self.encode([("return_to", $0)]) } ?? ""))
        #expect(begun.status == .seeOther)
        let location = try #require(begun.headers[.location])
        let state = try #require(ConsoleCookies.cookieValue(ConsoleSessionsTestNames.signIn, in: begun.headers))
        let query = try #require(URLComponents(string: location)?.queryItems)
        var form = query.map { ($0.name, $0.value ?? "") }
        form += [("user", user), ("groups", groups.joined(separator: ","))]
        if mfa { form.append(("mfa", "1")) }
        let authorized = try await console(.post, "/v1/dev/authorize", form: form)
        #expect(authorized.status == .found, "\(authorized.text)")
        let callback = try #require(authorized.headers[.location])
        let path = String(callback.drop(while: { $0 != "/" }).dropFirst(2).drop(while: { $0 != "/" }))
        let finished = try await console(.get, path, headers: [.cookie: "\(ConsoleSessionsTestNames.signIn)=\(state)"])
        #expect(finished.status == .ok, "\(finished.text)")
        let session = try #require(ConsoleCookies.cookieValue(ConsoleSessionsTestNames.session, in: finished.headers))
        let header = try #require(ConsoleCookies.setCookie(ConsoleSessionsTestNames.session, in: finished.headers))
        let page = try await console(.get, "/console/requests", headers: [.cookie: "\(ConsoleSessionsTestNames.session)=\(session)"])
        let csrf = try #require(Self.csrf(in: page.text), "\(page.status) \(page.text)")
        return ConsoleBrowser(session: session, csrf: csrf, sessionCookie: header, landing: finished.text)
    }

    /// The CSRF token of the first form of `html`.
    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }
}

/// Reading the console's `Set-Cookie` headers.
enum ConsoleCookies {
    /// The whole `Set-Cookie` header that sets `name` (not one that deletes it).
    static func setCookie(_ name: String, in headers: HTTPFields) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix(name + "=") && !$0.hasPrefix(name + "=;") }
    }

    /// The value `name` is set to.
    static func cookieValue(_ name: String, in headers: HTTPFields) -> String? {
        setCookie(name, in: headers).flatMap { $0.split(separator: ";").first }.map { String($0.dropFirst(name.count + 1)) }
    }
}
