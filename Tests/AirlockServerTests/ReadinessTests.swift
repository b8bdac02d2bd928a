@testable import AirlockServer
import Testing

@Suite("Readiness and request ids")
struct ReadinessTests {
    @Test("readiness starts blocked on the database and reports conditions sorted")
    func readiness() {
        let readiness = Readiness()
        #expect(!readiness.isReady)
        #expect(readiness.unmet.map(\.condition) == ["database"])
        readiness.block("policies", reason: "not loaded")
        readiness.clear("database")
        #expect(readiness.unmet.map(\.condition) == ["policies"])
        #expect(readiness.unmet.first?.reason == "not loaded")
        readiness.block("audit", reason: "behind")
        #expect(readiness.unmet.map(\.condition) == ["audit", "policies"])
        readiness.clear("audit")
        readiness.clear("policies")
        #expect(readiness.isReady)
        #expect(readiness.unmet.isEmpty)
    }

    @Test("a caller's request id is kept only when short and plain", arguments: [
        ("abc-123", true), ("A.b_C-9", true), (String(repeating: "a", count: 128), true),
        (String(repeating: "a", count: 129), false), ("", false), ("has space", false), ("semi;colon", false),
        ("new\nline", false), ("ünïcode", false),
    ])
    func requestIDAcceptable(value: String, accepted: Bool) {
        #expect(RequestIDMiddleware<AirlockRequestContext>.acceptable(value) == (accepted ? value : nil))
    }
}
