import AirlockBroker
import AirlockCore
import Foundation

/// The body of `POST /v1/tokens`, read: `{name, scopes[], groups[]?, ttl_seconds?, audience?}`
/// (``ApiTokens/validate(_:)`` checks the values, for this route and `airlock token create` alike).
///
/// - `name`: 1 to 64 characters, no control characters, not blank. The token acts as principal `token:<name>`.
/// - `scopes`: at least one of `admin`, `auditor`, `service`, `introspect`, `signals`; an unknown one is 422
///   `validation_failed` naming it.
/// - `groups`: at most 64, each `^[a-z0-9][a-z0-9_-]{0,63}$`; none that the policies use as approvers unless a
///   requirement on it says `including services`.
/// - `ttl_seconds`: 1 to 366 days, else 422 `invalid_ttl`; absent or null, the token does not expire (as with
///   `airlock token create` without `--ttl`).
/// - `audience`: required with the `introspect` scope (the `token` resource audience it introspects for), refused
///   without it.
enum TokenCreation {
    /// The fields `POST /v1/tokens` accepts.
    static let fields: Set<String> = ["name", "scopes", "groups", "ttl_seconds", "audience"]

    static func read(_ body: RequestBody) throws -> NewApiToken {
        NewApiToken(
            name: try body.string("name", required: true, maxLength: ApiTokens.maximumNameLength) ?? "",
            scopes: try body.strings("scopes", required: true, maxCount: 16) ?? [],
            groups: try body.strings("groups", maxCount: ApiTokens.maximumGroups) ?? [],
            ttlSeconds: try body.int("ttl_seconds"),
            audience: try body.string("audience", maxLength: ApiTokens.maximumAudienceLength))
    }
}
