import AirlockBroker
import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Hummingbird
import Logging

/// An error the API returns: an HTTP status and a stable snake_case code, rendered as
/// `{"error": {"code": ..., "message": ..., "request_id": ...}}`. The one place errors become HTTP.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Fields beside `error` in the body, such as the `decision` of a `policy_denied`. Never a secret.
    public var details: [String: JSONValue] = [:]

    /// Creates an error for the client; `message` and `details` must hold no secret.
    public init(_ status: HTTPResponse.Status, code: String, message: String, details: [String: JSONValue] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// The response for any error: ``APIError`` as itself, Hummingbird's HTTP errors by status, anything else a
    /// generic 500 whose detail goes only to the log.
    static func response(for error: any Error, requestID: String, logger: Logger) -> Response {
        let apiError = from(error, logger: logger)
        let data = Data(apiError.body(requestID: requestID).canonicalString().utf8)
        return Response(
            status: apiError.status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error": {"code", "message", "request_id"}, ...details}`.
    func body(requestID: String) -> JSONValue {
        var body = details
        body["error"] = .object([
            "code": .string(code), "message": .string(message), "request_id": .string(requestID),
        ])
        return .object(body)
    }

    /// The API's view of any error: ``APIError`` as itself, a domain error by its status and code, Hummingbird's
    /// HTTP errors by status, anything else a generic 500 whose detail goes only to the log.
    static func from(_ error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as BrokerError:
            return APIError(error)
        case let error as HTTPError:
            return APIError(error.status, code: Self.code(for: error.status), message: Self.message(for: error))
        default:
            // Not `String(reflecting:)`: a database error's debug description carries the query and its bound
            // values. `describeDatabaseError` keeps the server's message and drops the binds.
            logger.error("unhandled error", metadata: ["error": "\(describeDatabaseError(error))"])
            return APIError(.internalServerError, code: "internal_error", message: "internal error; see the broker log")
        }
    }

    private static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "malformed_json"
        case 401: "missing_token"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 429: "rate_limited"
        case 503: "not_ready"
        default: "http_\(status.code)"
        }
    }

    private static func message(for error: HTTPError) -> String {
        if let body = error.body, !body.isEmpty { return body.lowercased() }
        return error.status.reasonPhrase.lowercased()
    }
}
