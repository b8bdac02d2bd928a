/// A `like` pattern prepared once: the common shapes (`"x"`, `"x*"`, `"*x"`, `"*"`) match without
/// building arrays; any other pattern uses ``GlobPattern/matches(_:)``. Matching compares Unicode
/// scalars, exactly as ``GlobPattern`` does.
struct CompiledGlob: Sendable {
    private enum Shape: Sendable {
        case anything
        case exact([Unicode.Scalar])
        case prefix([Unicode.Scalar])
        case suffix([Unicode.Scalar])
        case general(GlobPattern)
    }

    private let shape: Shape

    init(_ pattern: GlobPattern) {
        let elements = pattern.elements
        switch (elements.first, elements.count) {
        case (nil, _):
            shape = .exact([])
        case (.wildcard?, 1):
            shape = .anything
        case (.literal(let text)?, 1):
            shape = .exact(Array(text.unicodeScalars))
        case (.literal(let text)?, 2) where elements[1] == .wildcard:
            shape = .prefix(Array(text.unicodeScalars))
        case (.wildcard?, 2):
            if case .literal(let text) = elements[1] {
                shape = .suffix(Array(text.unicodeScalars))
            } else {
                shape = .general(pattern)
            }
        default:
            shape = .general(pattern)
        }
    }

    /// Whether `text` matches the whole pattern.
    func matches(_ text: String) -> Bool {
        switch shape {
        case .anything:
            return true
        case .exact(let scalars):
            return text.unicodeScalars.elementsEqual(scalars)
        case .prefix(let scalars):
            return text.unicodeScalars.starts(with: scalars)
        case .suffix(let scalars):
            return text.unicodeScalars.reversed().starts(with: scalars.reversed())
        case .general(let pattern):
            return pattern.matches(text)
        }
    }
}
