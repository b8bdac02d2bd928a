import AirlockCore
import Crypto
import Foundation
import Hummingbird

/// `airlock dev`'s sign-in page for the console: a tiny OpenID Connect provider (authorization code with PKCE) for
/// the dev issuer, so the console walkthrough works offline. `GET /v1/dev/authorize` shows a form (a user name,
/// groups, and whether a second factor was just proven, as `airlock login --dev` takes them); its `POST` answers the
/// console's redirect URI with a one-time code; `POST /v1/dev/token` exchanges that code, with the PKCE verifier,
/// for an ID token signed by the dev issuer. Only the console's own client id and redirect URI are accepted.
/// `airlock serve` never runs it.
struct DevSignInRoutes: Sendable {
    let issuer: DevIssuer
    let console: ConsoleSettings
    let codes: DevAuthorizationCodes

    init(issuer: DevIssuer, console: ConsoleSettings, clock: any WallClock) {
        self.issuer = issuer
        self.console = console
        self.codes = DevAuthorizationCodes(clock: clock)
    }

    /// The paths the authentication middleware must let through (the browser has no token yet).
    static let paths: Set<String> = ["/v1/dev/authorize", "/v1/dev/token"]

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/dev/authorize") { request, _ in authorizePage(request) }
        router.post("v1/dev/authorize") { request, _ in await authorize(request) }
        router.post("v1/dev/token") { request, _ in await token(request) }
    }

    /// The authorization request's parameters once checked, or why not.
    struct AuthorizationRequest: Sendable {
        var state: String
        var nonce: String
        var challenge: String

        static func check(_ fields: [String: String], console: ConsoleSettings) -> Result<Self, ConsoleRefusal> {
            guard fields["response_type"] == "code" else { return .failure(ConsoleRefusal(.badRequest, "response_type must be code")) }
            guard fields["client_id"] == console.clientID else { return .failure(ConsoleRefusal(.badRequest, "unknown client_id")) }
            guard fields["redirect_uri"] == console.redirectURI else {
                return .failure(ConsoleRefusal(.badRequest, "redirect_uri is not the console's"))
            }
            guard fields["code_challenge_method"] == "S256", let challenge = fields["code_challenge"],
                  challenge.utf8.count == 43
            else { return .failure(ConsoleRefusal(.badRequest, "PKCE with S256 is required")) }
            guard let state = fields["state"], (1...512).contains(state.utf8.count),
                  let nonce = fields["nonce"], (1...512).contains(nonce.utf8.count)
            else { return .failure(ConsoleRefusal(.badRequest, "state and nonce are required")) }
            return .success(Self(state: state, nonce: nonce, challenge: challenge))
        }
    }

    static let parameterNames = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                                 "code_challenge", "code_challenge_method", "prompt", "max_age"]

    func authorizePage(_ request: Request) -> Response {
        var fields: [String: String] = [:]
        for name in Self.parameterNames { if let value = request.uri.queryParameters.get(name) { fields[name] = String(value) } }
        if case .failure(let refusal) = AuthorizationRequest.check(fields, console: console) {
            return ConsoleHTML.response(
                ConsoleHTML.page(title: "Sign-in refused", viewer: nil, body: ConsoleHTML.notice(refusal.message)),
                status: refusal.status)
        }
        let hidden = Self.parameterNames.compactMap { name in
            fields[name].map { "<input type=\"hidden\" name=\"\(name)\" value=\"\(ConsoleHTML.escape($0))\">" }
        }.joined()
        return ConsoleHTML.response(ConsoleHTML.page(title: "Sign in to airlock dev", viewer: nil, body: """
            <p class="muted">The dev issuer of <code>airlock dev</code>: anyone may be anyone here. In production the
            console signs in with your identity provider.</p>
            <form method="post" action="/v1/dev/authorize">\(hidden)
            <label for="user">User</label>
            <input id="user" name="user" type="text" required maxlength="64" pattern="[A-Za-z0-9._@-]+" placeholder="alice">
            <label for="groups">Groups (comma-separated)</label>
            <input id="groups" name="groups" type="text" maxlength="512" placeholder="sre">
            <label><input id="mfa" name="mfa" type="checkbox" value="1" checked> A second factor was just proven</label>
            <div class="actions"><button type="submit">Sign in</button></div>
            </form>
            <p class="muted">In the walkthrough: alice (sre), bob (backend), carol and dave (db-owners), erin (security),
            ada (auditors), root (airlock-admins).</p>
            """))
    }

    static func isName(_ text: Substring) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                || $0 == 0x2E || $0 == 0x5F || $0 == 0x40 || $0 == 0x2D
        }
    }

    func authorize(_ request: Request) async -> Response {
        do {
            let form = try await ConsoleForm.read(request, allowed: Set(Self.parameterNames + ["user", "groups", "mfa"]))
            let authorization = try AuthorizationRequest.check(form.fields, console: console).get()
            guard let user = form.text("user"), Self.isName(Substring(user)) else {
                throw ConsoleRefusal(.unprocessableContent, "A user name is letters, digits and . _ @ - (at most 64).")
            }
            let groups = (form.text("groups") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            guard groups.count <= 32, groups.allSatisfy({ Self.isName(Substring($0)) }) else {
                throw ConsoleRefusal(.unprocessableContent, "Groups are names of letters, digits and . _ @ - (at most 32).")
            }
            let code = await codes.issue(DevAuthorizationCodes.Grant(
                user: user, groups: groups, mfa: form.fields["mfa"] == "1", nonce: authorization.nonce,
                challenge: authorization.challenge))
            let location = console.redirectURI + "?" + ConsoleSignIn.formEncode([("code", code), ("state", authorization.state)])
            var headers = ConsoleHeaders.security
            headers[.location] = location
            return Response(status: .found, headers: headers)
        } catch let refusal as ConsoleRefusal {
            return ConsoleHTML.response(
                ConsoleHTML.page(title: "Sign-in refused", viewer: nil, body: ConsoleHTML.notice(refusal.message)),
                status: refusal.status)
        } catch {
            return ConsoleHTML.response(
                ConsoleHTML.page(title: "Sign-in failed", viewer: nil, body: ConsoleHTML.notice("internal error")),
                status: .internalServerError)
        }
    }

    /// The OAuth error answer of the token endpoint (RFC 6749 §5.2).
    func tokenError(_ code: String, _ status: HTTPResponse.Status = .badRequest) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(["error": .string(code)]).canonicalString())))
    }

    func token(_ request: Request) async -> Response {
        let form: ConsoleForm
        do {
            form = try await ConsoleForm.read(
                request, allowed: ["grant_type", "code", "redirect_uri", "client_id", "code_verifier", "client_secret"])
        } catch {
            return tokenError("invalid_request")
        }
        guard form.fields["grant_type"] == "authorization_code" else { return tokenError("unsupported_grant_type") }
        guard form.fields["client_id"] == console.clientID else { return tokenError("invalid_client", .unauthorized) }
        guard let code = form.fields["code"], let verifier = form.fields["code_verifier"],
              (43...128).contains(verifier.utf8.count), form.fields["redirect_uri"] == console.redirectURI,
              let grant = await codes.take(code)
        else { return tokenError("invalid_grant") }
        let challenge = ConsoleSignIn.challenge(verifier)
        guard ConstantTime.equals(Array(challenge.utf8), Array(grant.challenge.utf8)) else { return tokenError("invalid_grant") }
        do {
            let token = try await issuer.issueToken(
                user: grant.user, groups: grant.groups, mfa: grant.mfa, ttl: 3600, nonce: grant.nonce)
            let body = JSONValue.object([
                "id_token": .string(token), "token_type": .string("Bearer"), "expires_in": .int(3600),
            ])
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                             body: .init(byteBuffer: ByteBuffer(string: body.canonicalString())))
        } catch {
            return tokenError("server_error", .internalServerError)
        }
    }
}

/// The dev provider's authorization codes: random, for one exchange, within a minute.
actor DevAuthorizationCodes {
    struct Grant: Sendable {
        var user: String
        var groups: [String]
        var mfa: Bool
        var nonce: String
        var challenge: String
    }

    private var grants: [String: (grant: Grant, expires: Date)] = [:]
    private let clock: any WallClock

    init(clock: any WallClock) {
        self.clock = clock
    }

    func issue(_ grant: Grant) -> String {
        let now = clock.now()
        grants = grants.filter { $0.value.expires > now }
        let code = SecureRandom.base62(43)
        grants[code] = (grant, now.addingTimeInterval(60))
        return code
    }

    func take(_ code: String) -> Grant? {
        guard let entry = grants.removeValue(forKey: code), entry.expires > clock.now() else { return nil }
        return entry.grant
    }
}
