import AirlockCore
import AirlockStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// A signed-in person as a console page sees them.
struct ConsoleViewer: Sendable {
    /// Who they act as now (their `mfa_age` counted to this request).
    let principal: Principal
    let session: ConsoleSession
    /// The secret value of their session cookie (never shown; the CSRF token is derived from it).
    let sessionID: String

    var isAdmin: Bool { principal.has(scope: "admin") }
    var isAuditor: Bool { principal.has(scope: "auditor") }

    /// The token every form of this session carries: an HMAC of a fixed label under the session's secret, so it
    /// needs no storage, differs per session, and cannot be computed without the cookie.
    var csrfToken: String { Self.csrfToken(sessionID: sessionID) }

    static func csrfToken(sessionID: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("airlock console csrf v1".utf8), using: SymmetricKey(data: Data(sessionID.utf8)))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// The console's cookies, and reading the session a request presents.
struct ConsoleSessions: Sendable {
    static let sessionCookie = "airlock_session"
    static let signInCookie = "airlock_signin"

    let store: ConsoleSessionStore
    let settings: ConsoleSettings
    let clock: any WallClock

    /// The viewer whose session cookie `request` presents, or nil.
    func viewer(_ request: Request) async throws -> ConsoleViewer? {
        guard let id = Self.cookie(Self.sessionCookie, in: request), Self.isSecretShaped(id),
              let session = try await store.session(id: id)
        else { return nil }
        return ConsoleViewer(principal: session.principal(at: clock.now()), session: session, sessionID: id)
    }

    /// Whether `value` looks like a secret this console issued (base62, 43 characters): anything else is not
    /// looked up at all.
    static func isSecretShaped(_ value: String) -> Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
            || (0x61...0x7A).contains($0) }
    }

    /// The value of cookie `name` in `request`'s `Cookie` headers; nil when absent or given twice (a second cookie
    /// of the same name may have been planted by a sibling domain, so neither is trusted).
    static func cookie(_ name: String, in request: Request) -> String? {
        var found: [String] = []
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                found.append(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return found.count == 1 ? found[0] : nil
    }

    /// A `Set-Cookie` value: `HttpOnly`, the given `SameSite` and path, `Secure` unless the console is plain http
    /// on loopback; `maxAge` 0 deletes it.
    func setCookie(_ name: String, _ value: String, path: String, maxAge: Int64, sameSite: String) -> String {
        var cookie = "\(name)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=\(sameSite)"
        if !settings.isLoopbackHTTP { cookie += "; Secure" }
        return cookie
    }

    /// Starts a session for `principal` (who signed in now): its secret, and the cookie that carries it.
    func start(_ principal: Principal) async throws -> (id: String, cookie: String) {
        let now = clock.now()
        let id = SecureRandom.base62(43)
        let session = ConsoleSession(
            principalID: principal.id, issuer: settings.issuer, groups: principal.groups, email: principal.email,
            manager: principal.manager, onCall: principal.onCall,
            mfaAt: principal.mfaAgeSeconds.map { now.addingTimeInterval(-TimeInterval($0)) },
            roles: settings.roles(groups: principal.groups), createdAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(settings.sessionTTLSeconds)))
        try await store.create(session, id: id)
        return (id, setCookie(Self.sessionCookie, id, path: "/console", maxAge: settings.sessionTTLSeconds, sameSite: "Strict"))
    }

    /// Refuses a state change that is not from a console page of this session: the form's `csrf` field must be
    /// the session's token (constant time), and a browser's `Origin` (when sent) the console's own, and
    /// `Sec-Fetch-Site` (when sent) not another site's.
    func checkStateChange(_ request: Request, form: ConsoleForm, viewer: ConsoleViewer) throws(ConsoleRefusal) {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], !["same-origin", "none"].contains(site) {
            throw ConsoleRefusal(.forbidden, "This form was sent from another site, so it was refused.")
        }
        if let origin = request.headers[HTTPField.Name("Origin")!], origin != Self.origin(of: settings.publicURL) {
            throw ConsoleRefusal(.forbidden, "This form was sent from another origin, so it was refused.")
        }
        guard let token = form.fields["csrf"], ConstantTime.equals(Array(token.utf8), Array(viewer.csrfToken.utf8)) else {
            throw ConsoleRefusal(.forbidden, "This form has expired or did not come from your session: reload the page and try again.")
        }
    }

    /// `scheme://host[:port]` of `url`.
    static func origin(of url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return parsed.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }
}

/// A console refusal: an HTTP status and a sentence for the person.
struct ConsoleRefusal: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// A form body (`application/x-www-form-urlencoded`), at most 16 KiB, each field once, only the fields allowed.
struct ConsoleForm: Sendable {
    let fields: [String: String]

    static let maximumSize = 16 * 1024

    static func read(_ request: Request, allowed: Set<String>) async throws(ConsoleRefusal) -> ConsoleForm {
        guard let type = request.headers[.contentType]?.lowercased(),
              type.hasPrefix("application/x-www-form-urlencoded")
        else { throw ConsoleRefusal(.unsupportedMediaType, "The console takes forms only.") }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumSize)
        } catch {
            throw ConsoleRefusal(.contentTooLarge, "The form is larger than 16 KiB.")
        }
        guard let fields = parse(String(buffer: buffer)) else {
            throw ConsoleRefusal(.badRequest, "The form could not be read (a field twice, or bad encoding).")
        }
        let allowedWithToken = allowed.union(["csrf"])
        if let unknown = fields.keys.sorted().first(where: { !allowedWithToken.contains($0) }) {
            throw ConsoleRefusal(.badRequest, "The form has an unknown field `\(unknown.prefix(64))`.")
        }
        return ConsoleForm(fields: fields)
    }

    /// `a=1&b=two+words` → fields; nil on a repeated field or invalid percent-encoding.
    static func parse(_ body: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count == 2 ? parts[1] : ""),
                  fields[name] == nil
            else { return nil }
            fields[name] = value
        }
        return fields
    }

    static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The field `name`, trimmed; nil when absent or empty.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}
