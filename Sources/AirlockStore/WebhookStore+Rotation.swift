import AirlockCore
import Foundation
import Logging
import PostgresNIO

extension WebhookStore {
    /// Replaces the signing key of the endpoint `id` with `signingKey` (and, for `ed25519`, its `publicKey`). Until
    /// `window` has passed, the key it replaces keeps signing too — receivers get both signatures, space-separated,
    /// so they can switch keys without missing a delivery; a zero window drops it at once. A key older than the
    /// one replaced (an earlier rotation still in its window) is dropped: at most two keys sign at a time.
    ///
    /// The replaced key is sealed again under ``SealedColumn/webhookPreviousSecret`` (its own encryption context,
    /// so a sealed key cannot be moved between the columns). Records `airlock.webhook.rotated` (never a key).
    /// Returns the endpoint as stored after the rotation; nil when there is no such endpoint.
    public func rotate(
        _ id: UUID, signingKey: [UInt8], publicKey: [UInt8]?, window: TimeInterval, by actor: String, logger: Logger
    ) async throws -> WebhookEndpoint? {
        let row = Self.text(id)
        let now = clock.now()
        let rotationEnds: Date? = window > 0 ? now.addingTimeInterval(window) : nil
        let sealed = try await keys.seal(signingKey, context: SealedColumn.webhookSecret.context(row: row), logger: logger)
        let rotated: Bool = try await database.client.withTransaction(logger: logger) { connection in
            var current: (Data, String, String)?
            for try await found in try await connection.query(
                """
                SELECT secret, signing, url FROM webhook_endpoints
                WHERE id = \(id) AND deleted_at IS NULL AND format = 'cloudevents' FOR UPDATE
                """, logger: logger
            ).decode((Data, String, String).self) { current = found }
            guard let (secret, signing, url) = current else { return false }
            guard (signing == WebhookSigning.ed25519.rawValue) == (publicKey != nil) else {
                throw StoreError(
                    code: "webhook_signing_mismatch",
                    message: "webhook \(row) signs with \(signing); the new key must be of the same kind")
            }
            var previous: Data?
            if rotationEnds != nil {
                let opened = try await keys.open(
                    try SealedSecret(bytes: Array(secret)), context: SealedColumn.webhookSecret.context(row: row),
                    logger: logger)
                let resealed = try await keys.seal(
                    opened, context: SealedColumn.webhookPreviousSecret.context(row: row), logger: logger)
                previous = Data(resealed.bytes)
            }
            try await connection.query(
                """
                UPDATE webhook_endpoints
                SET secret = \(Data(sealed.bytes)), public_key = \(publicKey.map { Data($0) }),
                    previous_secret = \(previous), previous_until = \(rotationEnds)
                WHERE id = \(id)
                """, logger: logger)
            var data: [String: JSONValue] = [
                "webhook_id": .string(row), "url": .string(WebhookDestination.origin(of: url)), "actor": .string(actor),
                "signing": .string(signing),
            ]
            if let rotationEnds { data["previous_key_until"] = .string(AuditTime.format(rotationEnds)) }
            if let publicKey, let published = try? WebhookPublicKey(bytes: publicKey) {
                data["public_key"] = .string(published.text)
            }
            try await auditLog.append(
                NewAuditEvent(type: "airlock.webhook.rotated", subject: row, severity: .medium, data: data),
                on: connection, logger: logger)
            return true
        }
        return rotated ? try await get(id, logger: logger) : nil
    }
}
