import AirlockCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Fetches a JSON Web Key Set from an https URL. Injected so tests can serve key sets without a network.
public protocol JWKSFetcher: Sendable {
    /// The body of `url`; throws on any failure, non-2xx status or non-https URL.
    func fetch(_ url: URL) async throws -> Data
}

/// Fetches key sets over https with AsyncHTTPClient, bounded in size and in time.
///
/// - The body is read as it streams and the fetch fails as soon as it passes ``maximumSize`` (a `Content-Length`
///   above it fails before any of the body is read), so a huge answer never sits whole in memory.
/// - One deadline, ``deadline`` (10 s by default), bounds the whole fetch: connecting, the TLS handshake, every
///   redirect and the last byte of the body. A server that drips bytes cannot hold a fetch past it.
/// - Redirects are followed (at most 5), each only to another https URL.
public struct HTTPJWKSFetcher: JWKSFetcher {
    /// Largest key set accepted, in bytes (1 MiB).
    public static let maximumSize = 1 << 20
    /// The default total time of one fetch.
    public static let defaultDeadline: Duration = .seconds(10)
    /// Redirects followed at most.
    public static let maximumRedirects = 5

    /// The total time of one fetch.
    public let deadline: Duration
    /// The largest body accepted.
    public let maximumSize: Int
    private let tlsConfiguration: TLSConfiguration?

    /// Creates a fetcher. `tlsConfiguration` replaces the system's trust (tests trust their own authority).
    public init(
        deadline: Duration = defaultDeadline, maximumSize: Int = maximumSize, tlsConfiguration: TLSConfiguration? = nil
    ) {
        self.deadline = deadline
        self.maximumSize = maximumSize
        self.tlsConfiguration = tlsConfiguration
    }

    public func fetch(_ url: URL) async throws -> Data {
        guard url.scheme?.lowercased() == "https" else { throw JWKSFetchError("only https key set urls are allowed") }
        do {
            return try await withTimeout(deadline) { try await self.fetchFollowingRedirects(url) }
        } catch is TimeoutError {
            throw JWKSFetchError("the key set url did not answer in full within \(deadline)")
        }
    }

    private func fetchFollowingRedirects(_ start: URL) async throws -> Data {
        var url = start
        for _ in 0...Self.maximumRedirects {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.headers.add(name: "Accept", value: "application/json")
            request.tlsConfiguration = tlsConfiguration
            let response = try await Self.client.execute(request, timeout: .seconds(deadline.components.seconds + 1))
            if [301, 302, 303, 307, 308].contains(response.status.code) {
                guard let location = response.headers.first(name: "Location"),
                      let next = URL(string: location, relativeTo: url)?.absoluteURL
                else { throw JWKSFetchError("the key set url redirected without a location") }
                // A redirect must not leave https.
                guard next.scheme?.lowercased() == "https" else {
                    throw JWKSFetchError("the key set url redirected away from https")
                }
                url = next
                continue
            }
            guard (200..<300).contains(response.status.code) else {
                throw JWKSFetchError("the key set url did not answer 2xx")
            }
            do {
                let body = try await response.body.collect(upTo: maximumSize)
                return Data(buffer: body)
            } catch is NIOTooManyBytesError {
                throw JWKSFetchError("the key set is larger than \(maximumSize) bytes")
            }
        }
        throw JWKSFetchError("the key set url redirected more than \(Self.maximumRedirects) times")
    }

    /// One client for every key set fetch of the process, never shut down (like `HTTPClient.shared`, which
    /// follows redirects to plain http and so cannot be used). A global: it is never deinitialised.
    ///
    /// A connection that fails (refused, an untrusted certificate) fails the fetch at once with its cause rather
    /// than being retried until the deadline: the key set itself tries again a few seconds later.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}

/// Why a key set could not be fetched.
public struct JWKSFetchError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one line.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
