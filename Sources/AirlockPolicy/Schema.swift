/// The attributes a policy set may read, with their types: the built-in ones plus `attribute` declarations.
public struct Schema: Sendable, Hashable {
    /// Every known attribute and its type.
    public private(set) var attributes: [AttributePath: AttributeType]

    /// Creates a schema from attribute types.
    public init(attributes: [AttributePath: AttributeType]) {
        self.attributes = attributes
    }

    /// The type of `path`, or nil when the attribute is unknown.
    public subscript(path: AttributePath) -> AttributeType? { attributes[path] }

    /// The known attributes, sorted by root and name.
    public var paths: [AttributePath] { attributes.keys.sorted() }

    /// Adds a declaration; returns false (and changes nothing) when the attribute is already known.
    @discardableResult
    public mutating func declare(_ path: AttributePath, as type: AttributeType) -> Bool {
        guard attributes[path] == nil else { return false }
        attributes[path] = type
        return true
    }

    /// The closest known attribute to an unknown one, for "did you mean": same entity first, then the same name in another entity, then any close name.
    public func suggestion(for path: AttributePath) -> AttributePath? {
        let sameRoot = paths.filter { $0.root == path.root }
        if let name = Suggestion.closest(to: path.name, among: sameRoot.map(\.name)) {
            return AttributePath(path.root, name)
        }
        if let sameName = paths.first(where: { $0.name == path.name }) {
            return sameName
        }
        let limit = Suggestion.limit(for: path.name)
        let all = paths.map(\.description)
        if let full = Suggestion.closest(to: path.description, among: all, limit: limit) {
            return paths.first { $0.description == full }
        }
        return nil
    }

    /// The attributes of the policy language reference.
    public static let builtIn = Schema(attributes: [
        AttributePath(.principal, "id"): AttributeType(.string),
        AttributePath(.principal, "kind"): AttributeType(.string),
        AttributePath(.principal, "groups"): AttributeType(.stringSet),
        AttributePath(.principal, "email"): AttributeType(.string, optional: true),
        AttributePath(.principal, "mfa_age"): AttributeType(.duration, optional: true),
        AttributePath(.principal, "on_call"): AttributeType(.bool),
        AttributePath(.principal, "manager"): AttributeType(.string, optional: true),
        AttributePath(.resource, "id"): AttributeType(.string),
        AttributePath(.resource, "kind"): AttributeType(.string),
        AttributePath(.resource, "env"): AttributeType(.string),
        AttributePath(.resource, "owner"): AttributeType(.string),
        AttributePath(.resource, "sensitivity"): AttributeType(.int),
        AttributePath(.resource, "tags"): AttributeType(.stringSet),
        AttributePath(.request, "role"): AttributeType(.string),
        AttributePath(.request, "ttl"): AttributeType(.duration),
        AttributePath(.request, "reason"): AttributeType(.string),
        AttributePath(.request, "ticket"): AttributeType(.string, optional: true),
        AttributePath(.request, "source_ip"): AttributeType(.ip),
        AttributePath(.request, "break_glass"): AttributeType(.bool),
        AttributePath(.request, "hour"): AttributeType(.int),
        AttributePath(.request, "weekday"): AttributeType(.string),
        AttributePath(.risk, "score"): AttributeType(.int),
        AttributePath(.risk, "signals"): AttributeType(.stringSet),
    ])
}
