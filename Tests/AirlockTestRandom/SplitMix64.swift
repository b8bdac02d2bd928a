/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so every run of a randomised test checks the same
/// cases and a failure names the seed that reproduces it. Test code only; secrets come from the system's CSPRNG.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
