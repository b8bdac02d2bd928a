import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches a JSON Web Key Set from an https URL. Injected so tests can serve key sets without a network.
public protocol JWKSFetcher: Sendable {
    /// The body of `url`; throws on any failure, non-2xx status or non-https URL.
    func fetch(_ url: URL) async throws -> Data
}

/// Fetches key sets with Foundation's `URLSession`, https only, with a timeout and a size limit.
public struct URLSessionJWKSFetcher: JWKSFetcher {
    /// Largest key set accepted, in bytes.
    public static let maximumSize = 1 << 20

    private let timeout: TimeInterval

    /// Creates a fetcher whose requests give up after `timeout` seconds.
    public init(timeout: TimeInterval = 10) {
        self.timeout = timeout
    }

    public func fetch(_ url: URL) async throws -> Data {
        guard url.scheme?.lowercased() == "https" else { throw JWKSFetchError("only https key set urls are allowed") }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
            throw JWKSFetchError("the key set url did not answer 2xx")
        }
        // A redirect must not leave https.
        guard http.url?.scheme?.lowercased() == "https" else {
            throw JWKSFetchError("the key set url redirected away from https")
        }
        guard data.count <= Self.maximumSize else { throw JWKSFetchError("the key set is larger than 1 MiB") }
        return data
    }
}

/// Why a key set could not be fetched.
public struct JWKSFetchError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one line.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
