import Crypto

/// The names of the PostgreSQL roles Airlock creates for `postgres` resources, and the names the catalog keeps
/// free so that the two kinds never meet.
///
/// - Issued logins are `airlock_<template>_<12 random base36>`.
/// - Group roles are `airlock_g_<readable>_<16 hex>`: the readable part is the resource id (`-` as `_`), `_` and
///   the template, cut to 36 bytes; the hex is the first 64 bits of SHA-256 of the resource id, the template and
///   the resource's database. Two templates share a group role only if these hashes meet, and the catalog refuses
///   a file where they would (``ResourceCatalog/checkDistinctGroupRoles(_:groupRole:)``).
/// - A template name starting with `g_` is refused at load for `postgres` resources: its logins would be named
///   inside the group roles' namespace (`airlock_g_…`).
///
/// Before this scheme a group role was `airlock_g_<resource id with - as _>_<template>`, which two resources could
/// share (`orders` + `db_readwrite` and `orders-db` + `readwrite`). Such roles are left on the targets on upgrade
/// (see `Docs/operations.md`); logins are revoked by their lease's record, whatever group role they joined.
public enum PostgresRoleNames {
    /// What every group role's name starts with.
    public static let groupRolePrefix = "airlock_g_"
    /// Template name prefixes refused for `postgres` resources (a login is `airlock_<template>_…`).
    public static let reservedTemplatePrefixes = ["g_"]
    /// The length of a group role's hash part, in hex digits (64 bits).
    static let hashLength = 16
    /// The longest readable part of a group role name: 63 bytes less the prefix, `_` and the hash.
    static let readableLength = 63 - groupRolePrefix.utf8.count - 1 - hashLength

    /// Whether `template` may not name a `postgres` role template: its logins would look like group roles.
    public static func isReservedTemplateName(_ template: String) -> Bool {
        reservedTemplatePrefixes.contains { template.hasPrefix($0) }
    }

    /// The group role of `template` on the resource `resourceID` whose database is `database`, e.g.
    /// `airlock_g_orders_db_readonly_3f9a0c51d2e47b86`. Pure: the same parts always give the same name; the parts
    /// are expected to be valid (a resource id, a template name, a database name), and the result is at most 63
    /// bytes of `[a-z0-9_]` for such parts.
    public static func groupRole(resourceID: String, template: String, database: String) -> String {
        let readable = String(
            decoding: "\(resourceID.replacingOccurrences(of: "-", with: "_"))_\(template)".utf8.prefix(readableLength),
            as: UTF8.self)
        // The parts are separated by a newline, which none of them can contain: distinct parts, distinct input.
        let digest = SHA256.hash(data: Array("\(resourceID)\n\(template)\n\(database)".utf8))
        let hex = digest.prefix(hashLength / 2).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
        return "\(groupRolePrefix)\(readable)_\(hex)"
    }
}

extension ResourceCatalog {
    /// Refuses resources in which two `postgres` role templates would share one group role: a login of one
    /// would get the other's privileges. The error names both. `groupRole` names the group role of a resource's
    /// template (``PostgresRoleNames/groupRole(resourceID:template:database:)`` at load).
    public static func checkDistinctGroupRoles(
        _ resources: [Resource], groupRole: (Resource, String) -> String
    ) throws(ResourceCatalogError) {
        var owners: [String: (resource: String, template: String)] = [:]
        for resource in resources where resource.kind == .postgres && resource.postgres != nil {
            for template in resource.roles.keys.sorted() {
                let name = groupRole(resource, template)
                if let owner = owners[name] {
                    throw ResourceCatalogError(
                        resource: resource.id, field: "roles.\(template)",
                        message: "its group role `\(name)` would also be that of resource `\(owner.resource)`, role "
                            + "`\(owner.template)`: one group role for both would give each one's logins the other's "
                            + "privileges; rename one of them")
                }
                owners[name] = (resource.id, template)
            }
        }
    }
}
