/// The AST of one `.airlock` file: rules and attribute declarations in the order written.
public struct PolicyFile: Sendable, Hashable {
    /// A top-level item.
    public enum Item: Sendable, Hashable {
        /// A rule.
        case rule(Rule)
        /// An `attribute ROOT.NAME: TYPE` declaration.
        case declaration(AttributeDeclaration)
    }

    /// The source the file was parsed from.
    public var source: SourceFile
    /// The items in source order.
    public var items: [Item]
    /// The comments, for the formatter.
    public var comments: [Comment]

    /// Creates a file AST.
    public init(source: SourceFile, items: [Item], comments: [Comment]) {
        self.source = source
        self.items = items
        self.comments = comments
    }

    /// The rules in source order.
    public var rules: [Rule] {
        items.compactMap { item in
            if case .rule(let rule) = item { return rule }
            return nil
        }
    }

    /// The attribute declarations in source order.
    public var declarations: [AttributeDeclaration] {
        items.compactMap { item in
            if case .declaration(let declaration) = item { return declaration }
            return nil
        }
    }
}

/// A schema declaration: `attribute principal.department: String` or `attribute resource.pci: Bool?`.
public struct AttributeDeclaration: Sendable, Hashable {
    /// The declared attribute.
    public var path: AttributePath
    /// Its type.
    public var type: AttributeType
    /// Where the `attribute` keyword is.
    public var location: SourceLocation
    /// Where the attribute name (`principal.department`) starts.
    public var pathLocation: SourceLocation

    /// Creates a declaration.
    public init(path: AttributePath, type: AttributeType, location: SourceLocation, pathLocation: SourceLocation) {
        self.path = path
        self.type = type
        self.location = location
        self.pathLocation = pathLocation
    }
}
