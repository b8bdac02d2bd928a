import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id: the caller's `X-Request-Id` if it is short and plain, else a new one. The id is in
/// every log line of the request (`request_id`), in the `X-Request-Id` response header, and in error bodies.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { .requestID }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = Self.acceptable(request.headers[Self.headerName]) ?? Self.newID()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        do {
            var response = try await next(request, context)
            response.headers[Self.headerName] = id
            return response
        } catch {
            var response = APIError.response(for: error, requestID: id, logger: context.logger)
            response.headers[Self.headerName] = id
            return response
        }
    }

    /// A random version-4 UUID in lowercase, from `getrandom` (Foundation's `UUID()` opens, reads and closes
    /// `/dev/urandom` on every call on Linux: about 5 % of the broker's CPU under introspection load).
    static func newID() -> String {
        var bytes = SecureRandom.bytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func acceptable(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || (0x30...0x39).contains($0)
                  || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { return nil }
        return value
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`. `HTTPField.Name(_:)` fails only for names that are not HTTP tokens; these literals are
    /// tokens, so the fallback is never taken (it avoids a force-unwrap).
    static let requestID = HTTPField.Name("X-Request-Id") ?? .via
    /// `X-Forwarded-For`.
    static let forwardedFor = HTTPField.Name("X-Forwarded-For") ?? .via
}
