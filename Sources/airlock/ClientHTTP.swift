import AirlockAgent
import AirlockCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small JSON-over-HTTP client for the broker's `/v1` API. Turns the broker's
/// `{"error": {"code", "message", "request_id"}}` answers and transport failures into one-line ``ClientError``s.
/// The token goes only into the `Authorization` header, never into an error or a log line.
struct ClientHTTP: Sendable {
    /// A successful answer: its status and body.
    struct Reply: Sendable {
        let status: Int
        let body: Data

        /// The body parsed as JSON.
        func json() throws -> JSONValue {
            do {
                return try JSONValue.parse(body)
            } catch {
                throw ClientError("the broker answered with something that is not JSON")
            }
        }

        /// The body as text, for `--json`.
        var text: String {
            let text = String(decoding: body, as: UTF8.self)
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
    }

    let address: String
    private let base: URL
    private let token: String

    /// Refuses an address that is not http(s), and plain http to anything but a loopback host: the token would
    /// cross the network in clear text.
    init(address: String, token: String) throws {
        let base = try BrokerAddress.checked(address)
        self.address = address
        self.base = base.url
        self.token = token
    }

    func get(_ path: String) async throws -> Reply {
        try await send("GET", path, body: nil)
    }

    /// `method path` asking for the credential in the answer sealed to a key made for this request alone
    /// (``CredentialSeal``), and the answer opened: the secret crosses proxies and logs only sealed.
    func sealedCredential(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> Reply {
        let opener = try CredentialSeal.Opener()
        let reply = try await send(method, path, body: body, headers: opener.headers)
        do {
            let opened = try opener.openAnswer(try reply.json())
            return Reply(status: reply.status, body: opened.plaintext)
        } catch let error as CredentialSeal.Failure where error.code == .notSealed {
            throw ClientError("\(error.description) (the broker at \(address))")
        } catch let error as CredentialSeal.Failure {
            throw ClientError(error.description)
        }
    }

    /// Every page of a `{items, next_cursor}` list at `path` (which already has a query), up to `cap` items; with
    /// the raw pages for `--json` (one page is printed as it came).
    func allPages(_ path: String, cap: Int = 10_000) async throws -> (items: [JSONValue], json: String) {
        var items: [JSONValue] = []
        var texts: [String] = []
        var cursor: String?
        repeat {
            let query = cursor.map { "&cursor=\(pathSegment($0))" } ?? ""
            let reply = try await get(path + query)
            let page = try reply.json()
            texts.append(reply.text)
            items += page["items"]?.arrayValue ?? []
            cursor = page["next_cursor"]?.stringValue
        } while cursor != nil && items.count < cap
        let json = texts.count == 1 ? texts[0] : JSONValue.object(["items": .array(items), "next_cursor": .null]).description
        return (items, json)
    }

    func post(_ path: String, _ body: JSONValue) async throws -> Reply {
        try await send("POST", path, body: body)
    }

    /// Sends one request; a non-2xx answer becomes a ``ClientError``.
    func send(
        _ method: String, _ path: String, body: JSONValue?, headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        guard let url = URL(string: address + path) else { throw ClientError("cannot build a URL for `\(path)`") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 30
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        for header in headers { request.setValue(header.value, forHTTPHeaderField: header.name) }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body.canonicalData()
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.connectionProxyDictionary = [:]
        let session = URLSession(configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            throw transportError(error)
        } catch {
            throw ClientError("cannot reach the broker at \(address): the request failed")
        }
        guard let http = response as? HTTPURLResponse else {
            throw ClientError("the broker at \(address) did not answer over HTTP")
        }
        if (300..<400).contains(http.statusCode) {
            throw redirectError(http)
        }
        guard (200..<300).contains(http.statusCode) else {
            throw Self.apiError(status: http.statusCode, body: data)
        }
        return Reply(status: http.statusCode, body: data)
    }

    /// A redirect is never followed: the request carried the caller's token, and the new address (another host,
    /// or plain http) was chosen by whoever answered.
    private func redirectError(_ response: HTTPURLResponse) -> ClientError {
        let location = (response.value(forHTTPHeaderField: "Location")).map(TerminalText.escaped) ?? "nowhere"
        return ClientError(
            "the broker at \(address) answered with a redirect (HTTP \(response.statusCode)) to \(location); "
                + "Airlock never follows a redirect with your token: if that is your broker, pass it as --addr")
    }

    private func transportError(_ error: URLError) -> ClientError {
        switch error.code {
        case .cannotConnectToHost, .cannotFindHost, .networkConnectionLost, .notConnectedToInternet,
             .dnsLookupFailed:
            ClientError("cannot reach the broker at \(address): is `airlock dev` running? (or pass --addr)")
        case .timedOut:
            ClientError("the broker at \(address) did not answer in time")
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            ClientError("cannot reach the broker at \(address): the TLS connection failed")
        default:
            ClientError("cannot reach the broker at \(address): \(error.localizedDescription)")
        }
    }

    /// `error: MESSAGE (code)`, with a hint for 401s and the request id for 5xx.
    static func apiError(status: Int, body: Data) -> ClientError {
        let error = (try? JSONValue.parse(body))?["error"]
        let code = error?["code"]?.shown
        let message = error?["message"]?.shown ?? "the broker answered HTTP \(status)"
        var line = message
        if let code { line += " (\(code))" }
        if code == "policy_denied", let decision = (try? JSONValue.parse(body))?["decision"] {
            let rules = decision["rules"]?.arrayValue?.compactMap(\.shown) ?? []
            line += "\ndecision: \(decision["decision"]?.shown ?? "?")"
                + (rules.isEmpty ? " (no rule applies)" : ", rules: \(rules.joined(separator: ", "))")
        }
        if status == 401 {
            line += "\nhint: log in again with `airlock login --dev USER` (against `airlock dev`) "
                + "or `airlock login --token TOKEN`"
        }
        if status >= 500, let requestID = error?["request_id"]?.shown {
            line += " [request \(requestID)]"
        }
        return ClientError(line)
    }
}

/// Stops URLSession from following redirects: the answer is the 3xx itself, so the `Authorization` header never
/// reaches the place it points to.
private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// Percent-encodes one path segment (an id the user typed): every byte of its UTF-8 but `A-Z a-z 0-9 - _ ~`, so
/// `/`, `:`, `%`, `?`, `#`, non-ASCII letters and dots (no `..` segment to resolve) reach the broker as part of the
/// segment (`repo:org/app` is sent as `repo%3Aorg%2Fapp`; the broker decodes it).
func pathSegment(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
            encoded.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            encoded += String(format: "%%%02X", byte)
        }
    }
    return encoded
}

extension BrokerAddress {
    /// The address, or the reason it is refused as a ``ClientError`` naming `--addr`.
    static func checked(_ text: String) throws -> BrokerAddress {
        do {
            return try BrokerAddress(text)
        } catch {
            throw ClientError("--addr \(error.description)")
        }
    }
}
