import AirlockCore
import Foundation
import Hummingbird

/// JSON responses from ``JSONValue`` (keys sorted, as RFC 8785 writes them).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.canonicalBytes())))
    }

    static func time(_ date: Date?) -> JSONValue {
        date.map { .string(AuditTime.format($0)) } ?? .null
    }

    static func id(_ uuid: UUID?) -> JSONValue {
        uuid.map { .string($0.uuidString.lowercased()) } ?? .null
    }
}
