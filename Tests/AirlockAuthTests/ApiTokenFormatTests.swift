import AirlockCore
import Foundation
import Testing

@Suite struct ApiTokenFormatTests {
    @Test(arguments: ApiTokenFormat.Prefix.allCases)
    func roundTrip(prefix: ApiTokenFormat.Prefix) throws {
        let token = ApiTokenFormat.generate(prefix: prefix)
        #expect(token.hasPrefix(prefix.rawValue))
        #expect(token.utf8.count == prefix.rawValue.utf8.count + 43 + 6)
        let parsed = try #require(ApiTokenFormat.parse(token))
        #expect(parsed.prefix == prefix)
        #expect(parsed.token == token)
        #expect(parsed.hash == ApiTokenFormat.hash(token))
        #expect(parsed.hash.count == 32)
    }

    @Test func tokensAreDistinctAndUseTheWholeAlphabet() {
        let tokens = (0..<200).map { _ in ApiTokenFormat.generate(prefix: .airlock) }
        #expect(Set(tokens).count == tokens.count)
        let characters = Set(tokens.flatMap { $0.dropFirst(4) })
        #expect(characters.count > 55)
    }

    @Test func everyOneCharacterTypoFailsTheChecksum() throws {
        let token = ApiTokenFormat.generate(prefix: .airlock)
        let characters = Array(token)
        for index in 4..<characters.count {
            var typo = characters
            typo[index] = characters[index] == "a" ? "b" : "a"
            #expect(ApiTokenFormat.parse(String(typo)) == nil, "typo at \(index)")
        }
        // Two adjacent characters swapped.
        var swapped = characters
        if let index = (4..<characters.count - 1).first(where: { characters[$0] != characters[$0 + 1] }) {
            swapped.swapAt(index, index + 1)
            #expect(ApiTokenFormat.parse(String(swapped)) == nil)
        }
    }

    @Test func wrongPrefixFails() {
        let token = ApiTokenFormat.generate(prefix: .airlock)
        let rest = token.dropFirst(4)
        #expect(ApiTokenFormat.parse("alx_" + rest) == nil)
        #expect(ApiTokenFormat.parse("ALK_" + rest) == nil)
        #expect(ApiTokenFormat.parse(String(rest)) == nil)
        // A valid body moved to the other prefix fails the checksum (the prefix is part of it).
        #expect(ApiTokenFormat.parse("alkc_" + rest) == nil)
    }

    @Test func wrongLengthOrAlphabetFails() {
        let token = ApiTokenFormat.generate(prefix: .airlock)
        #expect(ApiTokenFormat.parse(String(token.dropLast())) == nil)
        #expect(ApiTokenFormat.parse(token + "0") == nil)
        #expect(ApiTokenFormat.parse("alk_") == nil)
        #expect(ApiTokenFormat.parse("") == nil)
        var characters = Array(token)
        characters[10] = "-"
        #expect(ApiTokenFormat.parse(String(characters)) == nil)
        characters[10] = "é"
        #expect(ApiTokenFormat.parse(String(characters)) == nil)
    }

    @Test func hashIsSHA256OfTheWholeString() {
        // SHA-256("abc").
        #expect(Digest.hex(ApiTokenFormat.hash("abc"))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
