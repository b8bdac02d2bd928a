import Foundation

/// A credential as the broker hands it over (`GET .../credentials`, `POST /v1/credentials`, once opened when
/// sealed): a PostgreSQL login or an `alkc_` token, with its lease and expiry. The one place its JSON is read and
/// turned into what a program consumes: environment variables, a connection URL, a `.pgpass` line.
public struct DeliveredCredential: Sendable, Hashable {
    public enum Secret: Sendable, Hashable {
        case postgres(host: String, port: Int, database: String, username: String, password: String, dsn: String)
        case token(String, scopes: [String], audience: String?)
    }

    public let secret: Secret
    public let leaseID: UUID
    public let expiresAt: Date

    public init(secret: Secret, leaseID: UUID, expiresAt: Date) {
        self.secret = secret
        self.leaseID = leaseID
        self.expiresAt = expiresAt
    }

    /// Reads the broker's answer; nil when it is not a credential (never says which field held what).
    public init?(_ json: JSONValue) {
        guard let lease = json["lease_id"]?.stringValue.flatMap(UUID.init(uuidString:)),
              let expires = json["expires_at"]?.stringValue.flatMap(AuditTime.parse) else { return nil }
        switch json["kind"]?.stringValue {
        case "postgres":
            let port = json["port"]?.intValue.map(Int.init) ?? json["port"]?.stringValue.flatMap { Int($0) }
            guard let host = json["host"]?.stringValue, let port, let database = json["database"]?.stringValue,
                  let username = json["username"]?.stringValue, let password = json["password"]?.stringValue,
                  let dsn = json["dsn"]?.stringValue else { return nil }
            secret = .postgres(host: host, port: port, database: database, username: username, password: password, dsn: dsn)
        case "token":
            guard let token = json["token"]?.stringValue else { return nil }
            secret = .token(token, scopes: (json["scopes"]?.arrayValue ?? []).compactMap(\.stringValue),
                            audience: json["audience"]?.stringValue)
        default:
            return nil
        }
        leaseID = lease
        expiresAt = expires
    }

    /// The broker's JSON form again (for a JSON output file).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "lease_id": .string(leaseID.uuidString.lowercased()), "expires_at": .string(AuditTime.format(expiresAt)),
        ]
        switch secret {
        case .postgres(let host, let port, let database, let username, let password, let dsn):
            object["kind"] = "postgres"
            object["host"] = .string(host)
            object["port"] = .int(Int64(port))
            object["database"] = .string(database)
            object["username"] = .string(username)
            object["password"] = .string(password)
            object["dsn"] = .string(dsn)
        case .token(let token, let scopes, let audience):
            object["kind"] = "token"
            object["token"] = .string(token)
            object["scopes"] = .array(scopes.map(JSONValue.string))
            if let audience { object["audience"] = .string(audience) }
        }
        return .object(object)
    }

    /// The login's name, or nil for a token: what a log line may say about it.
    public var username: String? {
        if case .postgres(_, _, _, let username, _, _) = secret { return username }
        return nil
    }

    /// The environment a program gets (libpq's `PG*` variables, or `AIRLOCK_CREDENTIAL_TOKEN`), in a stable order;
    /// `PGSSLMODE` when the broker's connection URL names an `sslmode`.
    public var environment: [(key: String, value: String)] {
        switch secret {
        case .token(let token, _, _):
            return [("AIRLOCK_CREDENTIAL_TOKEN", token)]
        case .postgres(let host, let port, let database, let username, let password, let dsn):
            var variables: [(key: String, value: String)] = [
                ("PGHOST", host), ("PGPORT", String(port)), ("PGDATABASE", database), ("PGUSER", username),
                ("PGPASSWORD", password),
            ]
            if let mode = Self.sslMode(dsn) { variables.append(("PGSSLMODE", mode)) }
            return variables
        }
    }

    /// The connection URL, or the token.
    public var connectionString: String {
        switch secret {
        case .postgres(_, _, _, _, _, let dsn): dsn
        case .token(let token, _, _): token
        }
    }

    /// A `.pgpass` line (`host:port:database:username:password`, `:` and `\` escaped), or nil for a token.
    public var pgpassLine: String? {
        guard case .postgres(let host, let port, let database, let username, let password, _) = secret else { return nil }
        func escaped(_ field: String) -> String {
            field.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
        }
        return [host, String(port), database, username, password].map(escaped).joined(separator: ":")
    }

    /// The `sslmode` a connection URL names.
    public static func sslMode(_ dsn: String) -> String? {
        URLComponents(string: dsn)?.queryItems?.first { $0.name == "sslmode" }?.value
    }
}
