/// Comparisons whose running time does not depend on where inputs differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, examining every byte.
    ///
    /// Collections of different lengths are unequal at once (their lengths are not
    /// secret); otherwise every pair of bytes is XOR-accumulated with no early exit,
    /// so the time taken reveals nothing about the position of a difference.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(a, b) {
            difference |= left ^ right
        }
        return difference == 0
    }
}
