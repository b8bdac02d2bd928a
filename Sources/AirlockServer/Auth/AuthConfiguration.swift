import AirlockCore
import AirlockPolicy
import Foundation

/// How the broker authenticates callers: the JWT issuers it trusts, which of them is the primary human issuer, the
/// clock skew it tolerates and the proxies whose `X-Forwarded-For` it believes. Built by the caller, or read by
/// ``load(fromFile:)``.
///
/// Principal ids: a token of the primary human issuer is its bare `sub`; a token of any other issuer is
/// `ISSUER#sub` (``PrincipalMapping``), so two issuers never share a subject space.
public struct AuthConfiguration: Sendable {
    /// The trusted JWT issuers; a token from any other issuer is `unknown_issuer`.
    public var issuers: [IssuerConfiguration]
    /// The issuer (a configured, non-workload one) whose subjects are principal ids as they are; nil: the only
    /// human issuer when there is exactly one (``resolvedPrimaryIssuer``).
    public var primaryIssuer: String?
    /// How far `exp`, `nbf` and `iat` may be off, in seconds (default 60).
    public var clockSkewSeconds: Int
    /// Networks of trusted reverse proxies (for `source_ip`).
    public var trustedProxies: [CIDR]
    /// How long an issuer's keys are used before they are read again, in the background (default 60).
    public var jwksRefreshSeconds: Int
    /// How long after the last successful read an issuer's keys may still be used while its key set cannot be
    /// read (default 600); past it the issuer's tokens are refused. The longest a key removed at the identity
    /// provider verifies tokens: `jwksRefreshSeconds` plus one fetch (10 s at most) while the key set answers,
    /// this while it does not.
    public var jwksMaxStaleSeconds: Int

    /// The default of ``jwksRefreshSeconds``.
    public static let defaultJWKSRefreshSeconds = 60
    /// The default of ``jwksMaxStaleSeconds``.
    public static let defaultJWKSMaxStaleSeconds = 600

    /// Creates a configuration.
    public init(
        issuers: [IssuerConfiguration] = [], primaryIssuer: String? = nil, clockSkewSeconds: Int = 60,
        trustedProxies: [CIDR] = [], jwksRefreshSeconds: Int = defaultJWKSRefreshSeconds,
        jwksMaxStaleSeconds: Int = defaultJWKSMaxStaleSeconds
    ) {
        self.issuers = issuers
        self.primaryIssuer = primaryIssuer
        self.clockSkewSeconds = clockSkewSeconds
        self.trustedProxies = trustedProxies
        self.jwksRefreshSeconds = jwksRefreshSeconds
        self.jwksMaxStaleSeconds = jwksMaxStaleSeconds
    }

    /// The primary human issuer: ``primaryIssuer`` when set, else the one non-workload issuer if there is exactly
    /// one, else none (every principal id is qualified).
    public var resolvedPrimaryIssuer: String? {
        if let primaryIssuer { return primaryIssuer }
        let people = issuers.filter { !$0.workload }
        return people.count == 1 ? people[0].issuer : nil
    }

    /// This configuration with the dev issuer's two issuers trusted (`airlock dev`); the dev issuer for people is the
    /// primary one unless another is configured as primary.
    public func trusting(_ devIssuer: DevIssuer) -> AuthConfiguration {
        var configuration = self
        configuration.issuers += devIssuer.issuerConfigurations
        if configuration.primaryIssuer == nil { configuration.primaryIssuer = DevIssuer.issuer }
        return configuration
    }

    /// Checks what the type system cannot: distinct issuers with audiences, https key URLs, a sane skew, a primary
    /// issuer that is a configured human issuer, issuer names that keep principal ids apart.
    public func validate() throws(AuthConfigurationError) {
        guard (0...600).contains(clockSkewSeconds) else {
            throw AuthConfigurationError("`clock_skew_seconds` must be between 0 and 600")
        }
        guard (1...86_400).contains(jwksRefreshSeconds) else {
            throw AuthConfigurationError("`jwks_refresh_seconds` must be between 1 and 86400")
        }
        guard (jwksRefreshSeconds...604_800).contains(jwksMaxStaleSeconds) else {
            throw AuthConfigurationError(
                "`jwks_max_stale_seconds` must be between `jwks_refresh_seconds` (\(jwksRefreshSeconds)) and 604800")
        }
        // Swift string equality on purpose: two issuers that are canonically equivalent (but not byte-equal) would be
        // ambiguous, so they count as configured twice.
        var seen = Set<String>()
        for issuer in issuers {
            guard !issuer.issuer.isEmpty else { throw AuthConfigurationError("an issuer has an empty `issuer`") }
            guard seen.insert(issuer.issuer).inserted else {
                throw AuthConfigurationError("issuer `\(issuer.issuer)` is configured twice")
            }
            if let problem = PrincipalMapping.problem(withIssuer: issuer.issuer) {
                throw AuthConfigurationError("issuer `\(issuer.issuer)`: \(problem)")
            }
            guard !issuer.acceptedTypes.isEmpty, !issuer.acceptedTypes.contains(where: \.isEmpty) else {
                throw AuthConfigurationError("issuer `\(issuer.issuer)` needs at least one non-empty `typ`")
            }
            guard !issuer.audiences.isEmpty, !issuer.audiences.contains("") else {
                throw AuthConfigurationError("issuer `\(issuer.issuer)` needs at least one non-empty audience")
            }
            if case .url(let url) = issuer.jwks {
                guard url.scheme?.lowercased() == "https", url.host?.isEmpty == false else {
                    throw AuthConfigurationError(
                        "issuer `\(issuer.issuer)`: the jwks url `\(url.absoluteString)` must be an https url")
                }
            }
        }
        if let primaryIssuer {
            guard let issuer = issuers.first(where: { Principal.sameID($0.issuer, primaryIssuer) }) else {
                throw AuthConfigurationError("`primary_issuer` `\(primaryIssuer)` is not a configured issuer")
            }
            guard !issuer.workload else {
                throw AuthConfigurationError("`primary_issuer` `\(primaryIssuer)` is a workload issuer; it must sign people's tokens")
            }
        }
    }

    /// Reads `{"issuers": [{"issuer", "audiences", "jwks_file" | "jwks_url", "workload", "typ", "require_typ"}],
    /// "primary_issuer", "clock_skew_seconds", "trusted_proxies", "jwks_refresh_seconds", "jwks_max_stale_seconds"}`
    /// from `path`, rejecting unknown fields, then validates it.
    /// A relative `jwks_file` is resolved against the file's directory.
    public static func load(fromFile path: String) throws(AuthConfigurationError) -> AuthConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AuthConfigurationError("cannot read the auth config file `\(path)`")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let file: FileFormat
        do {
            file = try JSONDecoder().decode(FileFormat.self, from: data)
        } catch let error as AuthConfigurationError {
            throw error
        } catch {
            throw AuthConfigurationError("the auth config file `\(path)` is not valid: \(Self.describe(error))")
        }
        var configuration = AuthConfiguration(
            primaryIssuer: file.primaryIssuer, clockSkewSeconds: file.clockSkewSeconds ?? 60,
            jwksRefreshSeconds: file.jwksRefreshSeconds ?? Self.defaultJWKSRefreshSeconds,
            jwksMaxStaleSeconds: file.jwksMaxStaleSeconds ?? Self.defaultJWKSMaxStaleSeconds)
        for proxy in file.trustedProxies ?? [] {
            guard let cidr = CIDR(proxy) else {
                throw AuthConfigurationError("`trusted_proxies`: `\(proxy)` is not a network (e.g. 10.0.0.0/8)")
            }
            configuration.trustedProxies.append(cidr)
        }
        for issuer in file.issuers ?? [] {
            let source: IssuerConfiguration.KeySource
            switch (issuer.jwksFile, issuer.jwksURL) {
            case (let file?, nil):
                source = .file(file.hasPrefix("/") ? file : base.appendingPathComponent(file).path)
            case (nil, let text?):
                guard let url = URL(string: text) else {
                    throw AuthConfigurationError("issuer `\(issuer.issuer)`: `\(text)` is not a url")
                }
                source = .url(url)
            default:
                throw AuthConfigurationError(
                    "issuer `\(issuer.issuer)` needs exactly one of `jwks_file` and `jwks_url`")
            }
            configuration.issuers.append(IssuerConfiguration(
                issuer: issuer.issuer, audiences: issuer.audiences, jwks: source, workload: issuer.workload ?? false,
                acceptedTypes: issuer.typ ?? IssuerConfiguration.defaultAcceptedTypes,
                requiresType: issuer.requireTyp ?? false))
        }
        try configuration.validate()
        return configuration
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field `\(key.stringValue)`"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at `\(context.codingPath.map(\.stringValue).joined(separator: "."))`"
        case DecodingError.dataCorrupted: "malformed json"
        default: "malformed json"
        }
    }

    private struct FileFormat: Decodable {
        var issuers: [IssuerEntry]?
        var primaryIssuer: String?
        var clockSkewSeconds: Int?
        var trustedProxies: [String]?
        var jwksRefreshSeconds: Int?
        var jwksMaxStaleSeconds: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case issuers, primaryIssuer = "primary_issuer", clockSkewSeconds = "clock_skew_seconds"
            case trustedProxies = "trusted_proxies"
            case jwksRefreshSeconds = "jwks_refresh_seconds", jwksMaxStaleSeconds = "jwks_max_stale_seconds"
        }

        init(from decoder: any Decoder) throws {
            try rejectUnknownFields(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            issuers = try container.decodeIfPresent([IssuerEntry].self, forKey: .issuers)
            primaryIssuer = try container.decodeIfPresent(String.self, forKey: .primaryIssuer)
            clockSkewSeconds = try container.decodeIfPresent(Int.self, forKey: .clockSkewSeconds)
            trustedProxies = try container.decodeIfPresent([String].self, forKey: .trustedProxies)
            jwksRefreshSeconds = try container.decodeIfPresent(Int.self, forKey: .jwksRefreshSeconds)
            jwksMaxStaleSeconds = try container.decodeIfPresent(Int.self, forKey: .jwksMaxStaleSeconds)
        }
    }

    private struct IssuerEntry: Decodable {
        var issuer: String
        var audiences: [String]
        var jwksFile: String?
        var jwksURL: String?
        var workload: Bool?
        var typ: [String]?
        var requireTyp: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case issuer, audiences, jwksFile = "jwks_file", jwksURL = "jwks_url", workload, typ
            case requireTyp = "require_typ"
        }

        init(from decoder: any Decoder) throws {
            try rejectUnknownFields(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            issuer = try container.decode(String.self, forKey: .issuer)
            audiences = try container.decode([String].self, forKey: .audiences)
            jwksFile = try container.decodeIfPresent(String.self, forKey: .jwksFile)
            jwksURL = try container.decodeIfPresent(String.self, forKey: .jwksURL)
            workload = try container.decodeIfPresent(Bool.self, forKey: .workload)
            typ = try container.decodeIfPresent([String].self, forKey: .typ)
            requireTyp = try container.decodeIfPresent(Bool.self, forKey: .requireTyp)
        }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func rejectUnknownFields<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, _: Keys.Type) throws {
    let known = Set(Keys.allCases.map(\.stringValue))
    for key in try decoder.container(keyedBy: AnyKey.self).allKeys where !known.contains(key.stringValue) {
        throw AuthConfigurationError("unknown field `\(key.stringValue)` in the auth config")
    }
}

/// One trusted JWT issuer and where its signing keys come from.
public struct IssuerConfiguration: Sendable, Hashable {
    /// Where an issuer's JSON Web Key Set is read from.
    public enum KeySource: Sendable, Hashable {
        /// A JWKS file, re-read every `jwks_refresh_seconds` (sooner for an unknown `kid`, at most every 5 s).
        case file(String)
        /// An https URL, fetched and cached on the same schedule (at most 1 MiB, within 10 s); any other scheme is
        /// refused.
        case url(URL)
        /// A JWKS document held in memory (the dev issuer's).
        case document(String)
    }

    /// The `iss` claim this issuer's tokens carry.
    public var issuer: String
    /// Accepted `aud` values: a token must name at least one.
    public var audiences: [String]
    /// The issuer's keys; a `kid` missing from this set is rejected, never looked up elsewhere.
    public var jwks: KeySource
    /// Whether this issuer signs workload tokens (principal kind `service`) rather than people's ID tokens.
    public var workload: Bool
    /// The JWT header `typ` values accepted (compared without case and without an `application/` prefix, as
    /// RFC 7515 says); default `["JWT"]`, so an OAuth access token (`at+jwt`, RFC 9068) is refused where ID
    /// tokens are expected. For an issuer whose access tokens Airlock takes: `["at+jwt"]` with ``requiresType``.
    public var acceptedTypes: [String]
    /// Whether a token without a `typ` header is refused (default false: ID tokens and Kubernetes service-account
    /// tokens often carry none).
    public var requiresType: Bool

    /// The `typ` values accepted when none are configured.
    public static let defaultAcceptedTypes = ["JWT"]

    /// Creates an issuer configuration.
    public init(
        issuer: String, audiences: [String], jwks: KeySource, workload: Bool = false,
        acceptedTypes: [String] = defaultAcceptedTypes, requiresType: Bool = false
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.jwks = jwks
        self.workload = workload
        self.acceptedTypes = acceptedTypes
        self.requiresType = requiresType
    }

    /// Whether a token whose header has `typ` (nil: no `typ`) is of a type this issuer's tokens may have.
    public func accepts(type typ: String?) -> Bool {
        guard let typ else { return !requiresType }
        let given = Self.normalised(typ)
        return acceptedTypes.contains { Self.normalised($0) == given }
    }

    /// `typ` without case and without an `application/` prefix (RFC 7515 §4.1.9).
    static func normalised(_ typ: String) -> String {
        let lower = typ.lowercased()
        return lower.hasPrefix("application/") ? String(lower.dropFirst("application/".count)) : lower
    }
}

/// A configuration problem in ``AuthConfiguration``: one line, no secret.
public struct AuthConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
