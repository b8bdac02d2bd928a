import AirlockBroker
import AirlockCore
import Foundation
import JWTKit
import Logging

/// Why a pushed SET was refused: an error code of RFC 8935 §2.4 and a description for the transmitter's operator.
/// Neither ever holds the SET or a token.
struct SETRefusal: Error, Sendable, Equatable {
    enum Code: String, Sendable {
        /// The request or the SET is malformed, too old, replayed, or not what a receiver takes.
        case invalidRequest = "invalid_request"
        /// The SET's key is unknown, of another algorithm, or its signature does not verify.
        case invalidKey = "invalid_key"
        /// The SET's issuer is no transmitter configured here.
        case invalidIssuer = "invalid_issuer"
        /// The SET is not meant for this receiver.
        case invalidAudience = "invalid_audience"
        /// The request carries no authorization token of a configured transmitter.
        case authenticationFailed = "authentication_failed"
        /// The token is another transmitter's than the SET's issuer.
        case accessDenied = "access_denied"
    }

    let code: Code
    let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// Checks Security Event Tokens pushed by the configured transmitters (RFC 8417, RFC 8935, SSF 1.0) and maps their
/// subjects to principals through the login issuers' mapping (``PrincipalMapping``).
///
/// The request is first authenticated by its `Authorization: Bearer` token (compared in constant time with every
/// transmitter's). The SET must then be a compact JWS whose header says `typ: secevent+jwt`, names a `kid` of that
/// transmitter's key set (read and cached as the login issuers' are) and that key's algorithm, and whose signature
/// verifies; its `iss` must be that transmitter, its `aud` name one of the configured audiences, its `iat` be neither
/// in the future (past the skew) nor older than the transmitter's maximum age, its `jti` be present, and it must
/// carry exactly one event.
struct SecurityEventTokenVerifier: Sendable {
    /// A configured transmitter and its keys.
    struct Transmitter: Sendable {
        let configuration: TransmitterConfiguration
        let keys: IssuerKeySet
    }

    private let transmitters: [Transmitter]
    private let auth: AuthConfiguration
    private let clockSkew: TimeInterval
    private let clock: any WallClock

    /// The longest `jti` accepted, in bytes.
    static let maximumJTIBytes = 256

    init(
        configuration: SharedSignalsReceiverConfiguration, auth: AuthConfiguration, clock: any WallClock,
        fetcher: any JWKSFetcher, logger: Logger
    ) {
        var schedule = IssuerKeySet.Schedule()
        schedule.refreshInterval = TimeInterval(auth.jwksRefreshSeconds)
        schedule.maximumStaleness = TimeInterval(auth.jwksMaxStaleSeconds)
        transmitters = configuration.transmitters.map { transmitter in
            Transmitter(
                configuration: transmitter,
                keys: IssuerKeySet(
                    issuer: transmitter.issuer, source: transmitter.jwks, fetcher: fetcher, clock: clock,
                    schedule: schedule, logger: logger))
        }
        self.auth = auth
        clockSkew = TimeInterval(configuration.clockSkewSeconds)
        self.clock = clock
    }

    /// The transmitter whose token `authorization` (the header's value) presents. Every configured token is
    /// compared, each in constant time, so the time taken says nothing about which one came close.
    func authenticate(authorization: String?) throws(SETRefusal) -> Transmitter {
        guard let authorization else {
            throw SETRefusal(.authenticationFailed, "the request has no `Authorization: Bearer` token")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw SETRefusal(.authenticationFailed, "the authorization header must be `Bearer TOKEN`")
        }
        let presented = Array(parts[1].utf8)
        var found: Transmitter?
        for transmitter in transmitters
        where ConstantTime.equals(presented, Array(transmitter.configuration.authorizationToken.utf8)) {
            found = found ?? transmitter
        }
        guard let found else {
            throw SETRefusal(.authenticationFailed, "the authorization token is not a configured transmitter's")
        }
        return found
    }

    /// The event `token` carries, once every check passed; `from` is the transmitter the request authenticated as.
    func verify(_ token: String, from transmitter: Transmitter) async throws(SETRefusal) -> ReceivedSecurityEvent {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = UnverifiedJWT.base64URLDecode(parts[0]),
              let payloadData = UnverifiedJWT.base64URLDecode(parts[1]),
              UnverifiedJWT.base64URLDecode(parts[2]) != nil,
              case .object(let header)? = try? JSONValue.parse(headerData),
              case .object(let claims)? = try? JSONValue.parse(payloadData)
        else { throw SETRefusal(.invalidRequest, "the body is not a compact JWS with a JSON header and payload") }
        guard header["crit"] == nil else {
            throw SETRefusal(.invalidRequest, "the SET's header has `crit` extensions this receiver does not know")
        }
        guard let type = header["typ"]?.stringValue, IssuerConfiguration.normalised(type) == "secevent+jwt" else {
            throw SETRefusal(.invalidRequest, "the SET's header must say `typ: secevent+jwt` (RFC 8417)")
        }
        guard let algorithm = header["alg"]?.stringValue, algorithm.lowercased() != "none", !algorithm.hasPrefix("HS")
        else { throw SETRefusal(.invalidKey, "the SET must be signed with the transmitter's asymmetric key") }

        // The issuer before the signature: it names the key set the signature is checked with.
        guard let issuer = claims["iss"]?.stringValue else {
            throw SETRefusal(.invalidIssuer, "the SET has no `iss`")
        }
        let configuration = transmitter.configuration
        guard Principal.sameID(issuer, configuration.issuer) else {
            if transmitters.contains(where: { Principal.sameID($0.configuration.issuer, issuer) }) {
                throw SETRefusal(.accessDenied, "the authorization token is not that of the SET's issuer")
            }
            throw SETRefusal(.invalidIssuer, "the SET's issuer is not a transmitter configured here")
        }
        guard let kid = header["kid"]?.stringValue, let key = await transmitter.keys.key(for: kid) else {
            throw SETRefusal(.invalidKey, "the SET's `kid` is not in its transmitter's key set")
        }
        guard algorithm == key.algorithm else {
            throw SETRefusal(.invalidKey, "the SET's `alg` is not its key's algorithm (\(key.algorithm))")
        }
        do {
            _ = try await key.collection.verify(token, as: AnyClaims.self)
        } catch {
            throw SETRefusal(
                .invalidKey, "the SET's signature does not verify with its transmitter's key `\(BrokerError.shown(kid))`")
        }

        // Signed by the transmitter: now its claims.
        let audiences: [String]
        switch claims["aud"] {
        case .string(let one)?: audiences = [one]
        case .array(let many)?: audiences = many.compactMap(\.stringValue)
        default: audiences = []
        }
        guard audiences.contains(where: configuration.audiences.contains) else {
            throw SETRefusal(.invalidAudience, "the SET's `aud` names no audience this receiver is configured with")
        }
        guard let issuedAtValue = claims["iat"]?.doubleValue, issuedAtValue.isFinite else {
            throw SETRefusal(.invalidRequest, "the SET has no numeric `iat`")
        }
        let now = clock.now().timeIntervalSince1970
        guard issuedAtValue <= now + clockSkew else {
            throw SETRefusal(.invalidRequest, "the SET's `iat` is in the future")
        }
        guard now - issuedAtValue <= TimeInterval(configuration.maximumAgeSeconds) else {
            throw SETRefusal(
                .invalidRequest, "the SET is older than \(configuration.maximumAgeSeconds) seconds (`iat`)")
        }
        guard let jti = claims["jti"]?.stringValue, !jti.isEmpty, jti.utf8.count <= Self.maximumJTIBytes,
              !jti.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw SETRefusal(
                .invalidRequest, "the SET needs a `jti` of 1 to \(Self.maximumJTIBytes) bytes, no control characters")
        }
        guard case .object(let events)? = claims["events"], events.count == 1, let (eventType, payload) = events.first,
              case .object(let event) = payload
        else { throw SETRefusal(.invalidRequest, "the SET must carry exactly one event (`events` with one member)") }

        var received = ReceivedSecurityEvent(
            transmitter: configuration.issuer, jti: jti, issuedAt: Date(timeIntervalSince1970: issuedAtValue),
            eventType: eventType)
        received.transaction = claims["txn"]?.stringValue.map { Self.bounded($0, 256) }
        received.reason = Self.reason(event["reason_admin"]).map { Self.bounded($0, 500) }
        if SharedSignalEvent(rawValue: eventType) == .verification {
            received.verificationState = event["state"]?.stringValue.map { Self.bounded($0, 256) }
            return received
        }
        // SSF 1.0 names the subject at the top (`sub_id`); earlier drafts put it in the event (`subject`).
        guard let subjectValue = claims["sub_id"] ?? event["subject"] else {
            received.unmappedReason = "the SET names no subject (`sub_id`)"
            return received
        }
        switch Self.subject(subjectValue) {
        case .success(let subject):
            received.subject = subject
            switch principal(for: subject, transmitter: configuration) {
            case .success(let id): received.principal = id
            case .failure(let problem): received.unmappedReason = problem.message
            }
        case .failure(let problem):
            received.unmappedReason = problem.message
        }
        return received
    }

    /// Why a subject maps to no principal.
    struct Unmapped: Error {
        let message: String
    }

    /// The principal `subject` names, through the login issuers' mapping: an `iss_sub` of a configured login issuer
    /// is that issuer's principal; an `opaque` id, or an `email` where the subject issuer's subjects are emails, is
    /// a subject of the transmitter's subject issuer.
    func principal(for subject: SecurityEventSubject, transmitter: TransmitterConfiguration) -> Result<String, Unmapped> {
        let primary = auth.resolvedPrimaryIssuer
        let issuer: String
        let sub: String
        switch subject {
        case .issuerSubject(let named, let id):
            guard let login = auth.issuers.first(where: { Principal.sameID($0.issuer, named) }) else {
                return .failure(Unmapped(message: "issuer `\(BrokerError.shown(named))` signs no logins here"))
            }
            issuer = login.issuer
            sub = id
        case .opaque(let id), .email(let id):
            if case .email = subject, !transmitter.emailIsSubject {
                return .failure(Unmapped(
                    message: "emails name no principal here (the transmitter's `email_is_subject` is false)"))
            }
            let named = transmitter.subjectIssuer ?? transmitter.issuer
            guard let login = auth.issuers.first(where: { Principal.sameID($0.issuer, named) }) else {
                return .failure(Unmapped(
                    message: "the transmitter's subject issuer `\(BrokerError.shown(named))` signs no logins here"))
            }
            issuer = login.issuer
            sub = id
        }
        do {
            let id = try PrincipalMapping.id(subject: sub, issuer: issuer, primaryIssuer: primary)
            guard id.utf8.count <= ExternalSignal.maximumPrincipalBytes, !id.unicodeScalars.contains("\u{0}") else {
                return .failure(Unmapped(message: "the subject is too long to be a principal id"))
            }
            return .success(id)
        } catch {
            return .failure(Unmapped(message: "the subject cannot be a principal id (it contains `#` or starts with `token:`)"))
        }
    }

    /// A `sub_id` of RFC 9493 in a format Airlock reads (`iss_sub`, `email`, `opaque`, or a `complex` one whose
    /// `user` member is one of those).
    static func subject(_ value: JSONValue) -> Result<SecurityEventSubject, Unmapped> {
        guard case .object(let members) = value, let format = members["format"]?.stringValue else {
            return .failure(Unmapped(message: "the subject is not an RFC 9493 subject identifier"))
        }
        func member(_ name: String) -> String? {
            guard let text = members[name]?.stringValue, !text.isEmpty else { return nil }
            return text
        }
        switch format {
        case "iss_sub":
            guard let issuer = member("iss"), let sub = member("sub") else { break }
            return .success(.issuerSubject(issuer: issuer, subject: sub))
        case "email":
            guard let email = member("email") else { break }
            return .success(.email(email))
        case "opaque":
            guard let id = member("id") else { break }
            return .success(.opaque(id))
        case "complex":
            guard let user = members["user"] else {
                return .failure(Unmapped(message: "the complex subject names no `user`"))
            }
            if case .object(let inner) = user, inner["format"]?.stringValue == "complex" { break }
            return subject(user)
        default:
            return .failure(Unmapped(message: "subject format `\(BrokerError.shown(format))` is not one airlock maps"))
        }
        return .failure(Unmapped(message: "the `\(format)` subject lacks its members"))
    }

    /// `reason_admin`: a string, or an object of language tags (English preferred, else the first tag).
    static func reason(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .object(let languages)?:
            if let english = languages["en"]?.stringValue { return english }
            return languages.keys.sorted().lazy.compactMap { languages[$0]?.stringValue }.first
        default: return nil
        }
    }

    /// `text` cut to `limit` characters, for the SET's values Airlock keeps (messages show input with
    /// ``BrokerError/shown(_:)``).
    static func bounded(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    /// Any payload: the claims are read from the verified token's JSON by ``verify(_:from:)`` itself.
    private struct AnyClaims: JWTPayload {
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {}
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}
