import Testing

@testable import AirlockCore

@Suite("SecureRandom")
struct SecureRandomTests {
    @Test("bytes has the requested length", arguments: [0, 1, 7, 8, 9, 16, 32, 33, 1000])
    func byteLengths(count: Int) {
        #expect(SecureRandom.bytes(count).count == count)
    }

    @Test("negative counts give nothing")
    func negative() {
        #expect(SecureRandom.bytes(-1).isEmpty)
        #expect(SecureRandom.base62(-5).isEmpty)
    }

    @Test("bytes differ between calls and cover the byte range")
    func bytesLookRandom() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        let sample = SecureRandom.bytes(100_000)
        #expect(Set(sample).count == 256)
    }

    @Test("base62 has the requested length", arguments: [0, 1, 22, 43, 64, 257])
    func base62Lengths(count: Int) {
        #expect(SecureRandom.base62(count).count == count)
        #expect(SecureRandom.base62(count).utf8.count == count)
    }

    @Test("base62 uses exactly the 62-character alphabet")
    func base62Alphabet() {
        let alphabet = Set(SecureRandom.base62Alphabet)
        #expect(alphabet.count == 62)
        let sample = SecureRandom.base62(20_000)
        #expect(sample.allSatisfy { alphabet.contains($0) })
        #expect(Set(sample) == alphabet)
        #expect(SecureRandom.base62(32) != SecureRandom.base62(32))
    }

    @Test("base62 is roughly uniform (no modulo bias toward the first characters)")
    func base62Uniform() {
        let sample = SecureRandom.base62(62 * 2_000)
        var counts: [Character: Int] = [:]
        for character in sample { counts[character, default: 0] += 1 }
        // Expected 2000 each (σ ≈ 45). A naive `byte % 62` would give the first 8
        // characters ~2420 each; ±300 (≈ 6.7σ) essentially never fails by chance.
        for (_, count) in counts {
            #expect(count > 1_700 && count < 2_300)
        }
    }
}
