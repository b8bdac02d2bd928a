import AirlockCore
import Foundation

/// The body of `POST /v1/tokens`, checked: `{name, scopes[], groups[]?, ttl_seconds?}`.
///
/// - `name`: 1 to 64 characters, no control characters, not blank. The token acts as principal `token:<name>`.
/// - `scopes`: at least one of `admin`, `auditor`, `service`, `introspect`; an unknown one is 422
///   `validation_failed` naming it.
/// - `groups`: at most 64, each `^[a-z0-9][a-z0-9_-]{0,63}$`.
/// - `ttl_seconds`: 1 to ``maximumTTLSeconds`` (366 days), else 422 `invalid_ttl`; absent or null, the token does not
///   expire (as with `airlock token create` without `--ttl`).
struct TokenCreation {
    let name: String
    let scopes: [ApiTokenScope]
    let groups: [String]
    let ttlSeconds: Int64?

    /// The fields `POST /v1/tokens` accepts.
    static let fields: Set<String> = ["name", "scopes", "groups", "ttl_seconds"]
    /// The longest lifetime a token may be given: 366 days.
    static let maximumTTLSeconds: Int64 = 366 * 24 * 3600
    static let maximumNameLength = 64
    static let maximumGroups = 64
    static let maximumGroupLength = 64

    init(_ body: RequestBody) throws {
        let name = try body.string("name", required: true, maxLength: Self.maximumNameLength) ?? ""
        // Blank: white space code points only (a space with a combining mark is not blank).
        guard !name.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw RequestBody.invalid("`name` must not be blank")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RequestBody.invalid("`name` contains control characters")
        }
        self.name = name
        self.scopes = try Self.scopes(body.strings("scopes", required: true, maxCount: 16) ?? [])
        self.groups = try Self.groups(body.strings("groups", maxCount: Self.maximumGroups) ?? [])
        let ttl = try body.int("ttl_seconds")
        if let ttl, !(1...Self.maximumTTLSeconds).contains(ttl) {
            throw APIError(
                .unprocessableContent, code: "invalid_ttl",
                message: "`ttl_seconds` must be between 1 and \(Self.maximumTTLSeconds) (366 days)")
        }
        self.ttlSeconds = ttl
    }

    private static func scopes(_ names: [String]) throws -> [ApiTokenScope] {
        var scopes: [ApiTokenScope] = []
        for name in names {
            guard let scope = ApiTokenScope(rawValue: name) else {
                let known = ApiTokenScope.allCases.map(\.rawValue).joined(separator: ", ")
                throw RequestBody.invalid("unknown scope `\(AccessBroker.shown(name))`; known scopes: \(known)")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes
    }

    private static func groups(_ names: [String]) throws -> [String] {
        for name in names where !isGroupName(name) {
            throw RequestBody.invalid(
                "group `\(AccessBroker.shown(name))` must match `^[a-z0-9][a-z0-9_-]{0,63}$`")
        }
        return names
    }

    /// Lower-case ASCII letters, digits, `-` and `_`, starting with a letter or digit, at most 64 characters.
    static func isGroupName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumGroupLength else { return false }
        func isLowerOrDigit(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        return isLowerOrDigit(first) && bytes.allSatisfy { isLowerOrDigit($0) || $0 == 0x2D || $0 == 0x5F }
    }
}
