import AirlockCore
import AirlockStore
import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Signing in to the console with the configured OpenID Connect issuer: the authorization code flow with PKCE
/// (RFC 7636, `S256`), a `state` bound to the browser by a cookie, and a `nonce` the ID token must answer. The ID
/// token is verified like every JWT Airlock accepts (``Authenticator/signIn(idToken:issuer:nonce:)``).
struct ConsoleSignIn: Sendable {
    let sessions: ConsoleSessions
    let authenticator: Authenticator
    let logger: Logger

    var settings: ConsoleSettings { sessions.settings }

    func register(on router: Router<AirlockRequestContext>) {
        router.get("console/signin") { request, _ in try await begin(request) }
        router.get("console/callback") { request, _ in await callback(request) }
        router.post("console/signout") { request, _ in await signOut(request) }
    }

    /// Where a sign-in returns to: a console path, nothing else (no other host, no `//`, no scheme).
    static func returnPath(_ text: String?) -> String {
        guard let text, text.hasPrefix("/console"), !text.hasPrefix("//"), text.utf8.count <= 512,
              text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0 != "\\" && $0 != "\"" })
        else { return "/console" }
        return text
    }

    /// `GET /console/signin[?return_to=PATH][&fresh=1]`: records a sign-in and sends the browser to the issuer.
    /// `fresh=1` asks the issuer to authenticate the person again now (`prompt=login`, `max_age=0`).
    func begin(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let state = SecureRandom.base62(43)
        let verifier = SecureRandom.base62(64)
        let nonce = SecureRandom.base62(32)
        try await sessions.store.begin(
            ConsoleSignInAttempt(
                codeVerifier: verifier, nonce: nonce, returnTo: Self.returnPath(query.get("return_to").map { String($0) })),
            state: state)
        var parameters: [(String, String)] = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", settings.redirectURI),
            ("scope", "openid profile email groups"), ("state", state), ("nonce", nonce),
            ("code_challenge", Self.challenge(verifier)), ("code_challenge_method", "S256"),
        ]
        if query.get("fresh") == "1" { parameters += [("prompt", "login"), ("max_age", "0")] }
        let separator = settings.authorizationEndpoint.contains("?") ? "&" : "?"
        let location = settings.authorizationEndpoint + separator + Self.formEncode(parameters)
        return ConsoleHTML.redirect(location, headers: [
            .setCookie: sessions.setCookie(
                ConsoleSessions.signInCookie, state, path: "/console/callback",
                maxAge: Int64(ConsoleSessionStore.signInLifetime), sameSite: "Lax"),
        ])
    }

    /// The PKCE `code_challenge` of `verifier`: base64url(SHA-256), unpadded.
    static func challenge(_ verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func formEncode(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            (name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }

    /// `GET /console/callback?code=…&state=…`: the issuer's answer. The state must be the one this browser's cookie
    /// holds and a sign-in this console began (taken once); the code is exchanged with the PKCE verifier; the ID
    /// token must verify and answer the nonce. Then a session starts.
    func callback(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        let clearSignIn = sessions.setCookie(
            ConsoleSessions.signInCookie, "", path: "/console/callback", maxAge: 0, sameSite: "Lax")
        if let error = query.get("error") {
            let description = query.get("error_description").map { ": " + String($0.prefix(300)) } ?? ""
            return failed("The identity provider refused the sign-in (\(error.prefix(64))\(description)).", clearSignIn)
        }
        guard let state = query.get("state").map { String($0) }, let code = query.get("code").map { String($0) },
              !code.isEmpty, code.utf8.count <= 2048, ConsoleSessions.isSecretShaped(state),
              let cookie = ConsoleSessions.cookie(ConsoleSessions.signInCookie, in: request),
              ConstantTime.equals(Array(cookie.utf8), Array(state.utf8))
        else {
            return failed("This sign-in was not started in this browser, or it was already used. Sign in again.", clearSignIn)
        }
        do {
            guard let signIn = try await sessions.store.take(state: state) else {
                return failed("This sign-in has expired or was already used. Sign in again.", clearSignIn)
            }
            let idToken = try await exchange(code: code, verifier: signIn.codeVerifier)
            let principal = try await authenticator.signIn(idToken: idToken, issuer: settings.issuer, nonce: signIn.nonce)
            let started = try await sessions.start(principal)
            logger.info("console sign-in", metadata: ["principal": "\(principal.id)"])
            // A page rather than a redirect: the session cookie is SameSite=Strict, and a redirect that began at the
            // issuer's site would arrive without it.
            let target = ConsoleHTML.escape(signIn.returnTo)
            let html = ConsoleHTML.page(title: "Signed in", viewer: nil, body: """
                <meta http-equiv="refresh" content="0;url=\(target)">
                <p>Signed in as <strong>\(ConsoleHTML.escape(principal.id))</strong>. <a href="\(target)">Continue</a>.</p>
                """)
            var headers: HTTPFields = [.setCookie: clearSignIn]
            headers.append(HTTPField(name: .setCookie, value: started.cookie))
            return ConsoleHTML.response(html, headers: headers)
        } catch let error as APIError {
            logger.notice("console sign-in refused", metadata: ["code": "\(error.code)"])
            return failed("The sign-in was refused: \(error.message).", clearSignIn, status: .unauthorized)
        } catch let error as ConsoleRefusal {
            return failed(error.message, clearSignIn, status: error.status)
        } catch {
            logger.error("console sign-in failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return failed("The sign-in failed; see the broker log.", clearSignIn, status: .internalServerError)
        }
    }

    func failed(_ message: String, _ cookie: String, status: HTTPResponse.Status = .badRequest) -> Response {
        ConsoleHTML.response(ConsoleHTML.page(title: "Sign-in failed", viewer: nil, body: """
            \(ConsoleHTML.notice(message))
            <p><a href="/console/signin">Sign in again</a></p>
            """), status: status, headers: [.setCookie: cookie])
    }

    /// The ID token the token endpoint gives for `code` and `verifier` (a client secret is sent only when
    /// configured). The endpoint's answer is read up to 64 KiB, within 10 seconds, without following redirects.
    func exchange(code: String, verifier: String) async throws -> String {
        var parameters = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.redirectURI),
            ("client_id", settings.clientID), ("code_verifier", verifier),
        ]
        if let secret = settings.clientSecret { parameters.append(("client_secret", secret)) }
        var request = HTTPClientRequest(url: settings.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: Self.formEncode(parameters)))
        let response: HTTPClientResponse
        do {
            response = try await Self.client.execute(request, timeout: .seconds(10))
        } catch {
            throw ConsoleRefusal(.badGateway, "The identity provider's token endpoint could not be reached.")
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw ConsoleRefusal(.badGateway, "The identity provider's token answer was too large.")
        }
        guard (200..<300).contains(response.status.code) else {
            let reason = (try? JSONValue.parse(Data(buffer: body)))?["error"]?.stringValue.map { " (\($0.prefix(64)))" } ?? ""
            throw ConsoleRefusal(.unauthorized, "The identity provider refused the authorization code\(reason).")
        }
        guard let token = (try? JSONValue.parse(Data(buffer: body)))?["id_token"]?.stringValue else {
            throw ConsoleRefusal(.badGateway, "The identity provider's token answer has no ID token.")
        }
        return token
    }

    /// One client for the process's token exchanges, never shut down; redirects are not followed.
    private static let client: HTTPClient = {
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// `POST /console/signout`: ends the session (CSRF-checked) and deletes its cookie.
    func signOut(_ request: Request) async -> Response {
        let clear = sessions.setCookie(ConsoleSessions.sessionCookie, "", path: "/console", maxAge: 0, sameSite: "Strict")
        do {
            let form = try await ConsoleForm.read(request, allowed: [])
            if let viewer = try await sessions.viewer(request) {
                try sessions.checkStateChange(request, form: form, viewer: viewer)
                try await sessions.store.end(id: viewer.sessionID)
            }
        } catch let refusal as ConsoleRefusal {
            return ConsoleHTML.response(
                ConsoleHTML.page(title: "Not signed out", viewer: nil, body: ConsoleHTML.notice(refusal.message)),
                status: refusal.status)
        } catch {
            logger.error("console sign-out failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
        return ConsoleHTML.response(ConsoleHTML.page(title: "Signed out", viewer: nil, body: """
            <p>You are signed out.</p><p><a href="/console/signin">Sign in again</a></p>
            """), headers: [.setCookie: clear])
    }
}
