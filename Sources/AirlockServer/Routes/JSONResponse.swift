import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird

/// JSON responses from ``JSONValue`` (keys sorted, as RFC 8785 writes them).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.canonicalBytes())))
    }

    /// An answer that carries a secret (a credential, a new token): `Cache-Control: no-store` and, for HTTP/1.0
    /// caches, `Pragma: no-cache`, so no cache between the broker and its caller keeps it.
    static func secret(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var response = make(value, status: status)
        response.headers[.cacheControl] = "no-store"
        response.headers[pragma] = "no-cache"
        return response
    }

    static let pragma = HTTPField.Name("Pragma")!

    static func time(_ date: Date?) -> JSONValue {
        date.map { .string(AuditTime.format($0)) } ?? .null
    }

    static func id(_ uuid: UUID?) -> JSONValue {
        uuid.map { .string($0.uuidString.lowercased()) } ?? .null
    }
}
