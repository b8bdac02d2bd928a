import AirlockCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The agent's calls to the broker: the one-call credential (always sealed to a key made for that call), renewal,
/// revocation and the policy's decision (for `--dry-run`). The token is read from its source before every call and
/// goes only into the `Authorization` header; redirects are never followed; answers are read up to 64 KiB.
public final class AgentBroker: Sendable {
    /// Why a call did not succeed, sorted by what the agent does next.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// No answer, a 5xx or a 429: try again later.
        case unreachable(String)
        /// 401: the token is missing, expired or refused (a rotated token file fixes it).
        case unauthorized(String)
        /// 403: the policy (or the caller's scope) refuses.
        case refused(code: String, message: String)
        /// 404 or 409: the lease no longer exists or has ended.
        case gone(String)
        /// Any other 4xx: the request itself is wrong (a resource or role the broker does not know, a bad TTL).
        case rejected(code: String, message: String)

        public var description: String {
            switch self {
            case .unreachable(let text), .unauthorized(let text), .gone(let text): text
            case .refused(let code, let message), .rejected(let code, let message): "\(message) (\(code))"
            }
        }
    }

    let address: BrokerAddress
    let authentication: AgentConfiguration.Authentication
    let environment: [String: String]
    private let client: HTTPClient

    public init(
        address: BrokerAddress, authentication: AgentConfiguration.Authentication,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.address = address
        self.authentication = authentication
        self.environment = environment
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.idleTimeout = .seconds(60)
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// `POST /v1/credentials`, sealed: the credential, opened here.
    public func issue(_ credential: AgentConfiguration.Credential) async throws(Failure) -> DeliveredCredential {
        let opener: CredentialSeal.Opener
        do {
            opener = try CredentialSeal.Opener()
        } catch {
            throw .rejected(code: "seal_key", message: "cannot make a key to seal the credential to")
        }
        let body: JSONValue = [
            "resource": .string(credential.resource), "role": .string(credential.role),
            "ttl_seconds": .int(credential.ttlSeconds), "reason": .string(credential.reason),
        ]
        let answer = try await call(.POST, "/v1/credentials", body: body, headers: opener.headers)
        let opened: JSONValue
        do {
            opened = try opener.openAnswer(answer).json
        } catch {
            throw .rejected(code: error.code.rawValue, message: error.description)
        }
        guard let delivered = DeliveredCredential(opened) else {
            throw .rejected(code: "not_a_credential", message: "the sealed answer is not a credential")
        }
        return delivered
    }

    /// `POST /v1/leases/{id}/renew`: the lease's expiry now.
    public func renew(_ lease: UUID, ttlSeconds: Int64) async throws(Failure) -> Date {
        let answer = try await call(.POST, "/v1/leases/\(lease.uuidString.lowercased())/renew",
                                    body: ["ttl_seconds": .int(ttlSeconds)])
        guard let expires = answer["expires_at"]?.stringValue.flatMap(AuditTime.parse) else {
            throw .rejected(code: "malformed_answer", message: "the renewal's answer has no expires_at")
        }
        return expires
    }

    /// `POST /v1/leases/{id}/revoke`. A lease already ended counts as revoked.
    public func revoke(_ lease: UUID) async throws(Failure) {
        do {
            _ = try await call(.POST, "/v1/leases/\(lease.uuidString.lowercased())/revoke", body: nil)
        } catch .gone {
            return
        }
    }

    /// `POST /v1/decisions`: what the policy decides for this credential now, without issuing anything.
    public func decide(_ credential: AgentConfiguration.Credential) async throws(Failure) -> JSONValue {
        try await call(.POST, "/v1/decisions", body: [
            "resource": .string(credential.resource), "role": .string(credential.role),
            "ttl_seconds": .int(credential.ttlSeconds), "reason": .string(credential.reason),
        ])
    }

    /// The token, read now from its source.
    func token() throws(Failure) -> String {
        switch authentication {
        case .tokenEnvironment(let name):
            guard let token = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                throw .unauthorized("the environment variable \(name) holds no token")
            }
            return token
        case .tokenFile(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw .unauthorized("cannot read the token file `\(path)`")
            }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
            let token = String(decoding: data ?? Data(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw .unauthorized("the token file `\(path)` holds no token")
            }
            return token
        }
    }

    private func call(
        _ method: HTTPMethod, _ path: String, body: JSONValue?, headers: [(name: String, value: String)] = []
    ) async throws(Failure) -> JSONValue {
        var request = HTTPClientRequest(url: address.base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(try token())")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "airlock-agent/\(AirlockVersion.current)")
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.canonicalData()))
        }
        let status: Int
        let data: Data
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            let buffer = try await response.body.collect(upTo: Self.largestAnswer)
            data = Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw .rejected(code: "answer_too_large", message: "the broker's answer is larger than 64 KiB")
        } catch {
            throw .unreachable("cannot reach the broker at \(address.origin): \(Self.describe(error))")
        }
        if (200..<300).contains(status) {
            guard let json = try? JSONValue.parse(data) else {
                throw .unreachable("the broker answered HTTP \(status) with something that is not JSON")
            }
            return json
        }
        let error = (try? JSONValue.parse(data))?["error"]
        let code = error?["code"]?.stringValue ?? "http_\(status)"
        let message = TerminalText.escaped(error?["message"]?.stringValue ?? "the broker answered HTTP \(status)")
        switch status {
        case 300..<400: throw .unreachable("the broker answered with a redirect (HTTP \(status)); redirects are never followed")
        case 401: throw .unauthorized("\(message) (\(code))")
        case 403: throw .refused(code: code, message: message)
        case 404, 409, 410: throw .gone("\(message) (\(code))")
        case 429, 500...: throw .unreachable("the broker answered HTTP \(status): \(message)")
        default: throw .rejected(code: code, message: message)
        }
    }

    /// No answer of the broker is larger (its own request bodies are capped at 64 KiB too).
    static let largestAnswer = 64 * 1024

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "the connection timed out"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the connection was closed"
            default: return "\(error)"
            }
        }
        return String(String(describing: error).prefix(200))
    }
}
