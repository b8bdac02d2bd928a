import AirlockCore
import AirlockPolicy
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Posts webhooks over HTTP with async-http-client: pooled keep-alive connections, a connect and a total timeout,
/// no redirects, the answer's body read up to 64 KiB and dropped.
///
/// Outbound safety: the endpoint's host is resolved here and every address it resolves to is judged by the
/// ``WebhookAddressPolicy`` (one refused address refuses the delivery: a name that also points at the metadata
/// service is not posted to). The connection then goes to the address that was checked — the client's DNS override
/// pins the name to it, with TLS still verified for the name — so a name that resolves elsewhere a moment later
/// (DNS rebinding) cannot move the request. Resolutions are kept for ``resolutionLifetime``.
public final class HTTPWebhookTransport: WebhookTransport {
    public let policy: WebhookAddressPolicy
    public let connectTimeout: TimeAmount
    public let totalTimeout: TimeAmount
    public static let resolutionLifetime: TimeInterval = 30
    public static let maximumResponseBytes = 64 * 1024

    /// A client per (host, checked address): its DNS override pins the host to the address.
    private struct Pinned: Sendable {
        let address: String
        let client: HTTPClient
        let resolvedAt: Date
    }

    private let pinned = Mutex<[String: Pinned]>([:])
    private let retired = Mutex<[HTTPClient]>([])
    private let resolve: @Sendable (String) async throws -> [String]

    /// A transport judging addresses by `policy`. `resolve` maps a host name to its addresses (textual IPv4/IPv6);
    /// the default asks the system resolver on NIO's thread pool.
    public init(
        policy: WebhookAddressPolicy, connectTimeout: TimeAmount = .seconds(5), totalTimeout: TimeAmount = .seconds(10),
        resolve: @escaping @Sendable (String) async throws -> [String] = HTTPWebhookTransport.systemResolve
    ) {
        self.policy = policy
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.resolve = resolve
    }

    public func post(_ webhook: OutgoingWebhook) async -> WebhookResponse {
        let destination: WebhookDestination
        do {
            destination = try WebhookDestination(parsing: webhook.url, allowsLoopbackHTTP: policy.allowsLoopback)
        } catch {
            return .failed(reason: error.message)
        }
        let client: HTTPClient
        do {
            client = try await self.client(for: destination)
        } catch let refusal as WebhookDestinationError {
            return .failed(reason: refusal.message)
        } catch {
            return .failed(reason: "cannot resolve \(destination.host)")
        }
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        switch webhook.kind {
        case .cloudEvent:
            request.headers.add(name: "content-type", value: "application/cloudevents+json; charset=utf-8")
            request.headers.add(name: "user-agent", value: "Airlock-Webhooks/1")
            request.headers.add(name: "webhook-id", value: webhook.id)
            request.headers.add(name: "webhook-timestamp", value: String(webhook.timestamp))
            request.headers.add(name: "webhook-signature", value: webhook.signature)
        case .securityEvent(let authorization):
            // RFC 8935: the SET alone, with the authorization the receiver asked for.
            request.headers.add(name: "content-type", value: "application/secevent+jwt")
            request.headers.add(name: "accept", value: "application/json")
            request.headers.add(name: "user-agent", value: "Airlock-SharedSignals/1")
            if let authorization, !authorization.isEmpty { request.headers.add(name: "authorization", value: authorization) }
        }
        request.body = .bytes(ByteBuffer(bytes: webhook.body))
        do {
            let response = try await client.execute(request, timeout: totalTimeout)
            // Read (and drop) at most the cap, so a receiver cannot make the broker buffer an endless answer.
            var read = 0
            for try await part in response.body {
                read += part.readableBytes
                if read > Self.maximumResponseBytes { break }
            }
            let status = Int(response.status.code)
            return .status(status, retryAfterSeconds: Self.retryAfter(response.headers.first(name: "retry-after")))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failed(reason: "no answer within \(totalTimeout.nanoseconds / 1_000_000_000) s")
        } catch let error as HTTPClientError where error == .connectTimeout {
            return .failed(reason: "could not connect within \(connectTimeout.nanoseconds / 1_000_000_000) s")
        } catch {
            return .failed(reason: Self.describe(error))
        }
    }

    /// `Retry-After` as seconds from now: delay-seconds, or an HTTP date.
    public static func retryAfter(_ value: String?) -> Int64? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int64(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, Int64(date.timeIntervalSinceNow.rounded(.up)))
    }

    /// A connection failure in one line, without anything from the request.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "http client: \(error)" }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return "cannot connect: \(first.error)"
        }
        if let error = error as? IOError { return "cannot connect: \(error.description)" }
        return "delivery failed: \(String(describing: type(of: error)))"
    }

    /// The client pinned to a checked address of `destination`'s host.
    private func client(for destination: WebhookDestination) async throws -> HTTPClient {
        let now = Date()
        if let cached = pinned.withLock({ $0[destination.host] }),
           now.timeIntervalSince(cached.resolvedAt) < Self.resolutionLifetime {
            return cached.client
        }
        let addresses: [String]
        if let literal = destination.literalAddress {
            addresses = ["\(literal)"]
        } else {
            addresses = try await resolve(destination.host)
        }
        guard let first = addresses.first else {
            throw WebhookDestinationError("\(destination.host) resolves to no address")
        }
        for text in addresses {
            guard let address = IPAddress(text) else { throw WebhookDestinationError("\(destination.host) resolves to an unreadable address") }
            if let refusal = policy.refusal(for: address) {
                throw WebhookDestinationError("refused webhook address: \(destination.host) → \(refusal)")
            }
        }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: connectTimeout, read: totalTimeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        if destination.literalAddress == nil { configuration.dnsOverride = [destination.host: first] }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let replaced = pinned.withLock { table -> HTTPClient? in
            let old = table[destination.host]
            table[destination.host] = Pinned(address: first, client: client, resolvedAt: now)
            return old?.client
        }
        if let replaced { retired.withLock { $0.append(replaced) } }
        return client
    }

    /// Closes every client (at shutdown).
    public func shutdown() async {
        let clients = pinned.withLock { table -> [HTTPClient] in
            defer { table.removeAll() }
            return table.values.map(\.client)
        } + retired.withLock { list -> [HTTPClient] in
            defer { list.removeAll() }
            return list
        }
        for client in clients { try? await client.shutdown() }
    }

    /// The system resolver (`getaddrinfo`), on NIO's blocking thread pool: the addresses of `host`, as text.
    public static let systemResolve: @Sendable (String) async throws -> [String] = { host in
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let list = result else {
                throw WebhookDestinationError("cannot resolve \(host)")
            }
            defer { freeaddrinfo(list) }
            var addresses: [String] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = list
            while let entry = cursor {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                               NI_NUMERICHOST) == 0 {
                    let text = String(cString: buffer)
                    if !addresses.contains(text) { addresses.append(text) }
                }
                cursor = entry.pointee.ai_next
            }
            return addresses
        }
    }
}
