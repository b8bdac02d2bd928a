import AirlockPolicy
import Foundation

/// Where a webhook endpoint delivers: a URL checked once, when the endpoint is added, and its address checked
/// again at every delivery (``WebhookAddressPolicy``), since a name may resolve elsewhere later.
///
/// Refused: anything but `https` (and `http` to a loopback host, in development mode), credentials in the URL
/// (they would be shown to every admin who lists endpoints), fragments, a missing host, URLs over 2,048 bytes.
public struct WebhookDestination: Sendable, Hashable {
    public let url: String
    public let isHTTPS: Bool
    /// The host as written, without IPv6 brackets, lower-cased.
    public let host: String
    public let port: Int
    /// The host's address when the URL names an address rather than a name.
    public let literalAddress: IPAddress?

    public static let maximumLength = 2048

    /// The URL as events and logs may show it: scheme, host and port, then `/…`. A receiver's path or query is
    /// often its capability (a chat service's incoming-hook URL works for whoever knows it), so only admins listing
    /// endpoints see the whole URL; audit events, which reach auditors and other endpoints, do not.
    public var origin: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(isHTTPS ? "https" : "http")://\(shownHost):\(port)/…"
    }

    /// ``origin`` of a stored URL (one that parsed when it was added); a URL that does not parse now is shown as
    /// `…` rather than risk showing it whole.
    public static func origin(of url: String) -> String {
        (try? WebhookDestination(parsing: url, allowsLoopbackHTTP: true))?.origin ?? "…"
    }

    /// Parses and checks `text`; `allowsLoopbackHTTP` admits `http://` to `localhost`, `127.0.0.0/8` or `::1`.
    public init(parsing text: String, allowsLoopbackHTTP: Bool) throws(WebhookDestinationError) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else {
            throw WebhookDestinationError("a webhook url must be 1 to \(Self.maximumLength) bytes")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }),
              let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw WebhookDestinationError("the webhook url is not a valid absolute url")
        }
        guard scheme == "https" || scheme == "http" else { throw WebhookDestinationError("a webhook url must be https") }
        guard components.user == nil, components.password == nil else {
            throw WebhookDestinationError("a webhook url must not carry credentials; sign deliveries instead")
        }
        guard components.fragment == nil else { throw WebhookDestinationError("a webhook url must not have a fragment") }
        guard var host = components.host?.lowercased(), !host.isEmpty else {
            throw WebhookDestinationError("the webhook url has no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let literal = IPAddress(host)
        let isLoopback = host == "localhost" || literal.map(WebhookAddressPolicy.isLoopback) == true
        switch scheme {
        case "https":
            isHTTPS = true
        case "http" where allowsLoopbackHTTP && isLoopback:
            isHTTPS = false
        case "http":
            throw WebhookDestinationError(
                allowsLoopbackHTTP
                    ? "a webhook url must be https (http only to a loopback host in development mode)"
                    : "a webhook url must be https")
        default:
            throw WebhookDestinationError("a webhook url must be https")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw WebhookDestinationError("the webhook url's port must be 1 to 65535")
        }
        self.url = text
        self.host = host
        self.port = components.port ?? (isHTTPS ? 443 : 80)
        self.literalAddress = literal
    }
}

/// Why a webhook URL or address was refused: one line, never a secret (URLs with credentials are refused without
/// being repeated).
public struct WebhookDestinationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
