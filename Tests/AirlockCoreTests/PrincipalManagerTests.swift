import AirlockCore
import Foundation
import Testing

/// Issue 12, item 2: `Principal.manager` takes part in equality, hashing and coding, byte for byte as ids do.
struct PrincipalManagerTests {
    @Test func managerIsPartOfThePrincipal() throws {
        let alice = Principal(id: "alice", kind: .user, manager: "carol")
        #expect(alice == Principal(id: "alice", kind: .user, manager: "carol"))
        #expect(alice != Principal(id: "alice", kind: .user))
        #expect(alice != Principal(id: "alice", kind: .user, manager: "dave"))
        // Canonically equivalent but different bytes: two managers, as two ids would be two principals.
        let composed = Principal(id: "alice", kind: .user, manager: "jos\u{E9}")
        let decomposed = Principal(id: "alice", kind: .user, manager: "jose\u{301}")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed, composed]).count == 2)

        let decoded = try JSONDecoder().decode(Principal.self, from: try JSONEncoder().encode(decomposed))
        #expect(decoded == decomposed)
        #expect(decoded.manager?.utf8.elementsEqual("jose\u{301}".utf8) == true)
        // A principal encoded before managers existed decodes with none.
        var older = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(alice)) as? [String: Any])
        older["manager"] = nil
        let old = try JSONDecoder().decode(Principal.self, from: try JSONSerialization.data(withJSONObject: older))
        #expect(old == Principal(id: "alice", kind: .user))
    }
}
