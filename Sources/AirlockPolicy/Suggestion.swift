/// "Did you mean" suggestions by edit distance.
enum Suggestion {
    /// The candidate closest to `input` within a small edit distance, ties broken by name; nil if none is close.
    static func closest(to input: String, among candidates: [String], limit: Int? = nil) -> String? {
        let limit = limit ?? Self.limit(for: input)
        var best: (distance: Int, name: String)?
        for candidate in candidates where candidate != input {
            let distance = editDistance(input.lowercased(), candidate.lowercased())
            guard distance <= limit else { continue }
            if let current = best, (current.distance, current.name) <= (distance, candidate) { continue }
            best = (distance, candidate)
        }
        return best?.name
    }

    /// The largest edit distance worth suggesting for a name of this length.
    static func limit(for input: String) -> Int { max(1, min(3, input.count / 3)) }

    /// `; did you mean `x`?` or an empty string.
    static func didYouMean(_ input: String, among candidates: [String]) -> String {
        closest(to: input, among: candidates).map { "; did you mean `\($0)`?" } ?? ""
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs.unicodeScalars)
        let b = Array(rhs.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previousPrevious[j - 2] + 1)
                }
                current[j] = value
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
