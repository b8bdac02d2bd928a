import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation

/// A broker on a fresh database with the dev issuer, a test clock, captured logs and one `alk_` admin token
/// (`token:root-admin`, created straight in the store as `airlock token create` would).
struct TokenRoutesFixture {
    let config: ServerConfiguration
    let issuer: DevIssuer
    let clock: TestClock
    let logs: CapturedLogs
    let adminToken: String
    let databaseURL: DatabaseURL

    /// A fixture on a fresh database of the shared test cluster, or on `database` (migrated already).
    static func make(database: DatabaseURL? = nil) async throws -> TokenRoutesFixture {
        let url = if let database { database } else { try await TestDatabase.fresh() }
        let clock = TestClock.followingSystemTime()
        let logs = CapturedLogs()
        var config = try ServerSupport.configuration(url: url)
        let issuer = try DevIssuer()
        config.devIssuer = issuer
        config.clock = clock
        config.logger = logs.logger()
        let source = config.settings.auditSource
        let adminToken = try await TestDatabase.withExisting(url) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: source, clock: clock), clock: clock)
                .create(name: "root-admin", scopes: ["admin"], actor: "test", logger: TestDatabase.logger).token
        }
        return TokenRoutesFixture(
            config: config, issuer: issuer, clock: clock, logs: logs, adminToken: adminToken, databaseURL: url)
    }

    /// Every audit event as stored (its JSON text), in order.
    func auditEvents() async throws -> [String] {
        try await AuditReader.events(at: databaseURL).map(\.event)
    }
}

/// The forms in which a token's secret could leak: the token, its body without the `alk_` prefix, and its hash.
func secretForms(of token: String) -> [String] {
    [token, String(token.dropFirst(ApiTokenFormat.Prefix.airlock.rawValue.count)),
     Digest.hex(ApiTokenFormat.hash(token)), Data(ApiTokenFormat.hash(token)).base64EncodedString()]
}
