import AirlockBroker
import AirlockCore
import Foundation
import Hummingbird

/// A JSON request body, read and checked strictly: at most 64 KiB (413 `payload_too_large`), one JSON object
/// (400 `malformed_json`), only known fields (400 `unknown_field`), each of the right type (422
/// `validation_failed`). Nothing is changed before a body passes.
struct RequestBody {
    let fields: [String: JSONValue]
    /// How messages name this body's fields: empty at the top level, `principal.` inside `principal`.
    var prefix = ""

    static let limit = 64 * 1024

    static func read(_ request: Request, allowed: Set<String>) async throws -> RequestBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "the body is larger than 64 KiB")
        }
        guard buffer.readableBytes > 0 else { return RequestBody(fields: [:]) }
        guard let value = try? JSONValue.parse(Data(buffer.readableBytesView)), let object = value.objectValue else {
            throw APIError(.badRequest, code: "malformed_json", message: "the body must be one json object")
        }
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw APIError(.badRequest, code: "unknown_field", message: "unknown field `\(key)`")
        }
        return RequestBody(fields: object)
    }

    /// The object field `key` as a body of its own, checked like the top level (only `allowed` fields, else 400
    /// `unknown_field`; not an object, 422 `validation_failed`); nil when absent or null.
    func object(_ key: String, allowed: Set<String>) throws -> RequestBody? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let object = value.objectValue else { throw Self.invalid("`\(prefix)\(key)` must be an object") }
        let nested = prefix + key + "."
        for name in object.keys.sorted() where !allowed.contains(name) {
            throw APIError(.badRequest, code: "unknown_field", message: "unknown field `\(nested)\(BrokerError.shown(name))`")
        }
        return RequestBody(fields: object, prefix: nested)
    }

    func string(_ key: String, required: Bool = false, maxLength: Int = 1024) throws -> String? {
        guard let value = fields[key], !value.isNull else {
            if required { throw Self.invalid("`\(prefix)\(key)` is required") }
            return nil
        }
        guard let text = value.stringValue else { throw Self.invalid("`\(prefix)\(key)` must be a string") }
        // Unicode code points, as JSON Schema's maxLength counts (Docs/openapi.yaml), not grapheme clusters.
        guard text.unicodeScalars.count <= maxLength else {
            throw Self.invalid("`\(prefix)\(key)` is longer than \(maxLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) else {
            throw Self.invalid("`\(prefix)\(key)` contains control characters")
        }
        return text
    }

    /// An array of strings, each checked as ``string(_:required:maxLength:)`` checks one; at most `maxCount`;
    /// with `required`, present and not empty.
    func strings(_ key: String, required: Bool = false, maxCount: Int = 256, maxLength: Int = 128) throws -> [String]? {
        guard let value = fields[key], !value.isNull else {
            if required { throw Self.invalid("`\(prefix)\(key)` is required") }
            return nil
        }
        guard let items = value.arrayValue else { throw Self.invalid("`\(prefix)\(key)` must be an array of strings") }
        if required, items.isEmpty { throw Self.invalid("`\(prefix)\(key)` must not be empty") }
        guard items.count <= maxCount else { throw Self.invalid("`\(prefix)\(key)` has more than \(maxCount) items") }
        return try items.map { item in
            guard item.stringValue != nil else { throw Self.invalid("`\(prefix)\(key)` must be an array of strings") }
            return try RequestBody(fields: [key: item], prefix: prefix).string(key, maxLength: maxLength) ?? ""
        }
    }

    func int(_ key: String, required: Bool = false) throws -> Int64? {
        guard let value = fields[key], !value.isNull else {
            if required { throw Self.invalid("`\(prefix)\(key)` is required") }
            return nil
        }
        guard case .int(let number) = value else { throw Self.invalid("`\(prefix)\(key)` must be an integer") }
        return number
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let flag = value.boolValue else { throw Self.invalid("`\(prefix)\(key)` must be true or false") }
        return flag
    }

    static func invalid(_ message: String) -> APIError {
        APIError(.unprocessableContent, code: "validation_failed", message: message)
    }
}
