import AirlockCore
import Foundation

/// The approver console (`/console`, Docs/console.md): where browsers reach it, the OpenID Connect client it signs
/// people in with (authorization code with PKCE), and which groups make a person an admin or an auditor there.
public struct ConsoleSettings: Sendable {
    /// The broker's base URL as browsers reach it (`https://airlock.example.com`, or http on loopback): the
    /// redirect URI is this plus `/console/callback`, and cookies are `Secure` unless it is plain http on loopback.
    public var publicURL: String
    /// The ID token's issuer: one of the issuers in `auth.config_file` (or the dev issuer), whose audiences include
    /// ``clientID``.
    public var issuer: String
    public var clientID: String
    /// Sent to the token endpoint when set (a confidential client); never logged.
    public var clientSecret: String?
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    /// People in any of these groups act as admins in the console (revoke-all, everyone's leases, the audit log).
    public var adminGroups: Set<String> = []
    /// People in any of these groups read the audit log in the console.
    public var auditorGroups: Set<String> = []
    /// How long a console session lasts, in seconds.
    public var sessionTTLSeconds: Int64 = 8 * 3600

    public init(
        publicURL: String, issuer: String, clientID: String, clientSecret: String? = nil,
        authorizationEndpoint: String, tokenEndpoint: String
    ) {
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
    }

    /// The console of `airlock dev` served at `publicURL` (`http://127.0.0.1:PORT`): the dev issuer's own sign-in
    /// page as its OpenID Connect provider (client `airlock`, the dev tokens' audience); `airlock-admins` act as
    /// admins, `auditors` read the audit log.
    public static func devSignIn(publicURL: String) -> ConsoleSettings {
        let base = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        var console = ConsoleSettings(
            publicURL: base, issuer: DevIssuer.issuer, clientID: DevIssuer.audience,
            authorizationEndpoint: base + "/v1/dev/authorize", tokenEndpoint: base + "/v1/dev/token")
        console.adminGroups = ["airlock-admins"]
        console.auditorGroups = ["auditors"]
        return console
    }

    /// `/console/callback` under ``publicURL``.
    public var redirectURI: String { publicURL + "/console/callback" }

    /// Whether cookies may go without `Secure`: only for plain http on a loopback host.
    public var isLoopbackHTTP: Bool {
        guard let url = URL(string: publicURL), url.scheme?.lowercased() == "http", let host = url.host?.lowercased()
        else { return false }
        return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
    }

    /// The roles a person with `groups` has in the console.
    public func roles(groups: [String]) -> Set<String> {
        var roles: Set<String> = []
        if !adminGroups.isDisjoint(with: groups) { roles.insert("admin") }
        if !auditorGroups.isDisjoint(with: groups) { roles.insert("auditor") }
        return roles
    }

    /// An absolute https URL, or http on a loopback host, without user, query or fragment.
    static func isValidURL(_ text: String, query: Bool = false) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.user == nil, url.fragment == nil, query || url.query == nil
        else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host.lowercased())
    }
}

extension AirlockConfiguration {
    /// `console.*`: the console is served when `console.public_url` is set; then the OIDC client settings are
    /// required.
    mutating func loadConsole(reader: inout ConfigurationReader) throws(ConfigurationError) {
        guard let publicURL = try reader.string("console.public_url") else {
            for key in ["console.oidc.issuer", "console.oidc.client_id", "console.oidc.authorization_endpoint",
                        "console.oidc.token_endpoint", "console.oidc.client_secret_file"]
            where try reader.string(key) != nil {
                throw ConfigurationError(key: key, message: "needs `console.public_url`")
            }
            return
        }
        guard ConsoleSettings.isValidURL(publicURL) else { throw reader.invalid("console.public_url") }
        func required(_ key: String) throws(ConfigurationError) -> String {
            guard let value = try reader.string(key), !value.isEmpty else {
                throw ConfigurationError(key: key, message: "required with `console.public_url`")
            }
            return value
        }
        let authorization = try required("console.oidc.authorization_endpoint")
        let token = try required("console.oidc.token_endpoint")
        guard ConsoleSettings.isValidURL(authorization) else { throw reader.invalid("console.oidc.authorization_endpoint") }
        guard ConsoleSettings.isValidURL(token) else { throw reader.invalid("console.oidc.token_endpoint") }
        var console = ConsoleSettings(
            publicURL: publicURL, issuer: try required("console.oidc.issuer"),
            clientID: try required("console.oidc.client_id"), authorizationEndpoint: authorization, tokenEndpoint: token)
        if let secretFile = try reader.string("console.oidc.client_secret_file") {
            let bytes: [UInt8]
            do {
                bytes = try SecretFile.read(secretFile)
            } catch {
                throw ConfigurationError(key: "console.oidc.client_secret_file", message: "\(error)")
            }
            let secret = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !secret.isEmpty else { throw reader.invalid("console.oidc.client_secret_file") }
            console.clientSecret = secret
        }
        console.adminGroups = Set(try reader.list("console.admin_groups") ?? [])
        console.auditorGroups = Set(try reader.list("console.auditor_groups") ?? [])
        if let ttl = try reader.int("console.session_ttl_seconds", in: 300...7 * 86400) {
            console.sessionTTLSeconds = Int64(ttl)
        }
        self.console = console
    }
}
