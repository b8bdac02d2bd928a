import AirlockCore
import Foundation

/// Names and statements for PostgreSQL roles, built only from validated parts: identifiers through
/// ``SQLIdentifier/quoted(_:)``, literals from values Airlock formats itself (never from request text).
enum PostgresStatements {
    /// Length of the random part of a login name (base36: about 62 bits).
    static let loginSuffixLength = 12

    /// The template name, checked: lower-case letters, digits, `_`, starting with a letter, at most 20 characters,
    /// and not starting with a reserved prefix (``PostgresRoleNames/reservedTemplatePrefixes``: its logins would be
    /// named like group roles).
    static func templateName(_ name: String) throws(ProviderError) -> String {
        let bytes = Array(name.utf8)
        guard (1...20).contains(bytes.count), bytes[0] >= UInt8(ascii: "a"), bytes[0] <= UInt8(ascii: "z"),
              SQLIdentifier.isValid(name)
        else {
            throw ProviderError(code: "invalid_role_template", message: "a role template name must match ^[a-z][a-z0-9_]{0,19}$")
        }
        guard !PostgresRoleNames.isReservedTemplateName(name) else {
            throw ProviderError(
                code: "invalid_role_template",
                message: "a role template name may not start with "
                    + PostgresRoleNames.reservedTemplatePrefixes.joined(separator: " or "))
        }
        return name
    }

    /// The group role of `template` on the resource `resourceID` whose database is `database`:
    /// ``PostgresRoleNames/groupRole(resourceID:template:database:)``, after checking the parts.
    static func groupRoleName(resourceID: String, template: String, database: String) throws(ProviderError) -> String {
        guard ResourceIdentifier.isResourceID(resourceID) else {
            throw ProviderError(code: "invalid_resource", message: "a resource id must match ^[a-z][a-z0-9-]{0,62}$")
        }
        _ = try SQLIdentifier.quoted(database)
        let name = PostgresRoleNames.groupRole(
            resourceID: resourceID, template: try templateName(template), database: database)
        guard SQLIdentifier.isValid(name) else {
            throw ProviderError(code: "invalid_identifier", message: "cannot form a group role name")
        }
        return name
    }

    /// A fresh login name `airlock_<template>_<12 random base36 characters>`.
    static func loginRoleName(template: String) throws(ProviderError) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var suffix = ""
        while suffix.count < loginSuffixLength {
            for byte in SecureRandom.bytes(16) where byte < 252 && suffix.count < loginSuffixLength {  // 252 = 7 × 36
                suffix.append(alphabet[Int(byte % 36)])
            }
        }
        let name = "airlock_\(try templateName(template))_\(suffix)"
        guard SQLIdentifier.isValid(name) else {
            throw ProviderError(code: "invalid_identifier", message: "cannot form a login name")
        }
        return name
    }

    /// A `timestamptz` literal in UTC with microseconds, e.g. `'2026-05-01 12:00:00.250000+00'`.
    static func timestampLiteral(_ date: Date) throws(ProviderError) -> String {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, (946_684_800...253_402_300_799).contains(seconds) else {  // years 2000 to 9999
            throw ProviderError(code: "invalid_expiry", message: "the expiry must be a date between 2000 and 9999")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let whole = Date(timeIntervalSince1970: seconds.rounded(.down))
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        let micros = Int(((seconds - seconds.rounded(.down)) * 1_000_000).rounded(.down))
        let fields = [parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second].compactMap { $0 }
        guard fields.count == 6, calendar.timeZone.secondsFromGMT() == 0 else {
            throw ProviderError(code: "invalid_expiry", message: "cannot format the expiry in UTC")
        }
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let date = "\(pad(fields[0], 4))-\(pad(fields[1], 2))-\(pad(fields[2], 2))"
        let time = "\(pad(fields[3], 2)):\(pad(fields[4], 2)):\(pad(fields[5], 2)).\(pad(micros, 6))"
        return "'\(date) \(time)+00'"
    }

    /// `CREATE ROLE` for one issued login: its password as a SCRAM verifier, its expiry, its connection limit and
    /// its only privilege, membership (with INHERIT) in the group role. One statement, so no GRANT races.
    static func createLogin(
        username: String, verifier: SCRAMVerifier, validUntil: Date, connectionLimit: Int, groupRole: String
    ) throws(ProviderError) -> String {
        guard (1...10_000).contains(connectionLimit) else {
            throw ProviderError(code: "invalid_target", message: "the connection limit must be between 1 and 10000")
        }
        return "CREATE ROLE \(try SQLIdentifier.quoted(username)) WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB "
            + "NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT \(connectionLimit) "
            + "PASSWORD \(try verifier.sqlLiteral()) VALID UNTIL \(try timestampLiteral(validUntil)) "
            + "IN ROLE \(try SQLIdentifier.quoted(groupRole))"
    }

    /// The comment every login issued for `leaseID` carries, `airlock lease <uuid>`: how Airlock recognises the
    /// lease's login on the target (revocation drops nothing that does not carry it).
    static func leaseComment(_ leaseID: UUID) throws(ProviderError) -> String {
        let uuid = leaseID.uuidString.lowercased()
        guard uuid.count == 36, uuid.allSatisfy({ $0 == "-" || $0.isHexDigit }) else {
            throw ProviderError(code: "invalid_lease", message: "unexpected lease id format")
        }
        return "airlock lease \(uuid)"
    }

    /// `COMMENT ON ROLE … IS 'airlock lease <uuid>'`.
    static func commentOnLogin(username: String, leaseID: UUID) throws(ProviderError) -> String {
        "COMMENT ON ROLE \(try SQLIdentifier.quoted(username)) IS '\(try leaseComment(leaseID))'"
    }

    /// The comment of a group role: `airlock group role <resource>/<template> in <database>` (all validated parts,
    /// so the literal holds no quote). Group roles of the earlier naming scheme carry `airlock group role` alone.
    static func groupRoleComment(resourceID: String, template: String, database: String) throws(ProviderError) -> String {
        guard ResourceIdentifier.isResourceID(resourceID) else {
            throw ProviderError(code: "invalid_resource", message: "a resource id must match ^[a-z][a-z0-9-]{0,62}$")
        }
        _ = try SQLIdentifier.quoted(database)
        return "airlock group role \(resourceID)/\(try templateName(template)) in \(database)"
    }

    /// One `DO` block that sets the logins `usernames` NOLOGIN and takes from each every role it is a member of (its
    /// group role), in one transaction.
    static func disableLogins(_ usernames: [String]) throws(ProviderError) -> String {
        guard !usernames.isEmpty else {
            throw ProviderError(code: "invalid_statement", message: "no login to disable")
        }
        var alters = ""
        for username in usernames { alters += "ALTER ROLE \(try SQLIdentifier.quoted(username)) NOLOGIN; " }
        // Each name is [a-z0-9_] only (quoted(_:) checked it), so it is also a valid string literal as it stands.
        let literals = usernames.map { "'\($0)'" }.joined(separator: ", ")
        return "DO $airlock_do$ DECLARE g text; m text; BEGIN " + alters
            + "FOR g, m IN SELECT r.rolname, u.rolname FROM pg_catalog.pg_auth_members a "
            + "JOIN pg_catalog.pg_roles r ON r.oid = a.roleid JOIN pg_catalog.pg_roles u ON u.oid = a.member "
            + "WHERE u.rolname IN (\(literals)) LOOP EXECUTE format('REVOKE %I FROM %I', g, m); END LOOP; END $airlock_do$"
    }

    /// One `DO` block that drops what the logins `usernames` own in the target database and then the logins, in one
    /// transaction.
    static func dropLogins(_ usernames: [String]) throws(ProviderError) -> String {
        guard !usernames.isEmpty else {
            throw ProviderError(code: "invalid_statement", message: "no login to drop")
        }
        var quoted: [String] = []
        for username in usernames { quoted.append(try SQLIdentifier.quoted(username)) }
        let list = quoted.joined(separator: ", ")
        return try atomically(["DROP OWNED BY \(list)", "DROP ROLE IF EXISTS \(list)"])
    }

    /// Trusted statements as one `DO` block: one round trip, and all or nothing (a login is never left without its
    /// lease comment, which is how an incomplete issuance is found).
    static func atomically(_ statements: [String]) throws(ProviderError) -> String {
        let tag = "$airlock_do$"
        guard !statements.isEmpty, statements.allSatisfy({ !$0.contains(tag) && !$0.contains(";") }) else {
            throw ProviderError(code: "invalid_statement", message: "cannot combine these statements")
        }
        return "DO \(tag) BEGIN " + statements.map { $0 + "; " }.joined() + "END \(tag)"
    }
}
