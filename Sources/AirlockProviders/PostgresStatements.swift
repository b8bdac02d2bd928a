import AirlockCore
import Foundation

/// Names and statements for PostgreSQL roles, built only from validated parts: identifiers through
/// ``SQLIdentifier/quoted(_:)``, literals from values Airlock formats itself (never from request text).
enum PostgresStatements {
    /// Length of the random part of a login name (base36: about 62 bits).
    static let loginSuffixLength = 12

    /// The template name, checked: lower-case letters, digits, `_`, starting with a letter, at most 20 characters.
    static func templateName(_ name: String) throws(ProviderError) -> String {
        let bytes = Array(name.utf8)
        guard (1...20).contains(bytes.count), bytes[0] >= UInt8(ascii: "a"), bytes[0] <= UInt8(ascii: "z"),
              SQLIdentifier.isValid(name)
        else {
            throw ProviderError(code: "invalid_role_template", message: "a role template name must match ^[a-z][a-z0-9_]{0,19}$")
        }
        return name
    }

    /// `airlock_g_<resource id with - as _>_<template>`, truncated with a short hash when longer than 63 bytes.
    static func groupRoleName(resourceID: String, template: String) throws(ProviderError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...63).contains(resourceID.utf8.count), resourceID.allSatisfy({ allowed.contains($0) }),
              resourceID.first?.isLetter == true
        else {
            throw ProviderError(code: "invalid_resource", message: "a resource id must match ^[a-z][a-z0-9-]{0,62}$")
        }
        let id = resourceID.replacingOccurrences(of: "-", with: "_")
        return try SQLIdentifier.fitted("airlock_g_\(id)_\(try templateName(template))")
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

    /// Whether `name` has the shape of a login Airlock issues (so revocation never touches another role).
    static func isIssuedLogin(_ name: String) -> Bool {
        guard SQLIdentifier.isValid(name), name.hasPrefix("airlock_"), !name.hasPrefix("airlock_g_") else { return false }
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 3, let suffix = parts.last, suffix.count == loginSuffixLength else { return false }
        return suffix.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
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

    /// `COMMENT ON ROLE … IS 'airlock lease <uuid>'`.
    static func commentOnLogin(username: String, leaseID: UUID) throws(ProviderError) -> String {
        let uuid = leaseID.uuidString.lowercased()
        guard uuid.count == 36, uuid.allSatisfy({ $0 == "-" || $0.isHexDigit }) else {
            throw ProviderError(code: "invalid_lease", message: "unexpected lease id format")
        }
        return "COMMENT ON ROLE \(try SQLIdentifier.quoted(username)) IS 'airlock lease \(uuid)'"
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
