import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// `Docs/openapi.yaml` describes exactly the routes the broker serves (dev-only routes included).
struct OpenAPITests {
    static let document: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/openapi.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// `METHOD /path` for every operation of the document, with `{param}` as Hummingbird writes `:param`.
    static var documented: Set<String> {
        var result: Set<String> = []
        var path: String?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
                    let hummingbird = path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
                    result.insert("\(method) \(hummingbird)")
                }
            } else if !line.hasPrefix(" ") {
                path = nil
            }
        }
        return result
    }

    @Test(.timeLimit(.minutes(1)))
    func theDocumentMatchesTheRoutes() async throws {
        var config = try ServerSupport.configuration(url: try await TestDatabase.fresh())
        config.devIssuer = try DevIssuer()
        let served = Set(try brokerRoutes(config: config).map { route in
            route.replacingOccurrences(of: "/{", with: "/:").replacingOccurrences(of: "}", with: "")
        })
        #expect(!served.isEmpty)
        #expect(Self.documented.count >= 10, "\(Self.documented)")
        for route in served.subtracting(Self.documented).sorted() {
            Issue.record("served but not in Docs/openapi.yaml: \(route)")
        }
        for route in Self.documented.subtracting(served).sorted() {
            Issue.record("in Docs/openapi.yaml but not served: \(route)")
        }
    }
}
