import AirlockCore
import Foundation

/// A broker address a token may be sent to: an http(s) URL with a host and no user or password in it, and https
/// unless the host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`): the token would otherwise cross the
/// network in clear text. `origin` identifies it for binding a stored token. The CLI and the agent both check here.
public struct BrokerAddress: Equatable, Sendable {
    /// Why an address is refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static let example = "http://127.0.0.1:8420"

    public let url: URL
    /// `scheme://host:port/path` in lower case with the default port filled in and no trailing slash.
    public let origin: String
    /// The URL as given, without a trailing slash: what API paths are appended to.
    public var base: String {
        let text = url.absoluteString
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    public init(_ text: String) throws(Refusal) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host?.lowercased(), !host.isEmpty,
              url.user == nil, url.password == nil, url.query == nil, url.fragment == nil else {
            throw Refusal(description: "`\(TerminalText.escaped(text))` is not an http(s) URL such as \(Self.example)")
        }
        if scheme == "http", !LoopbackHost.contains(host) {
            throw Refusal(description:
                "refusing to send your token to \(TerminalText.escaped(text)) over plain http: use https "
                    + "(plain http is allowed only to a loopback address such as 127.0.0.1)")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        self.url = url
        self.origin = "\(scheme)://\(host):\(port)\(path)"
    }
}
