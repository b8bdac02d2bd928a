import Testing

@testable import AirlockCore

@Suite("ConstantTime")
struct ConstantTimeTests {
    @Test("equal bytes are equal")
    func equal() {
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(ConstantTime.equals(Array("token".utf8), "token".utf8))
    }

    @Test("any differing byte makes them unequal")
    func differ() {
        let base: [UInt8] = Array(0..<32)
        for index in base.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var other = base
                other[index] ^= flip
                #expect(!ConstantTime.equals(base, other))
            }
        }
    }

    @Test("different lengths are unequal")
    func lengths() {
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(!ConstantTime.equals([UInt8](), [0] as [UInt8]))
        #expect(!ConstantTime.equals([0, 0] as [UInt8], [0] as [UInt8]))
    }

    @Test("works across collection types")
    func mixedCollections() {
        let bytes: [UInt8] = [9, 8, 7, 6]
        #expect(ConstantTime.equals(bytes[1...], [8, 7, 6] as [UInt8]))
        #expect(!ConstantTime.equals(bytes[1...], [8, 7, 5] as [UInt8]))
    }
}
