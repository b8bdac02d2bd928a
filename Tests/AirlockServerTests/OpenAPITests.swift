import AirlockCore
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

    /// Each operation (`METHOD /path`, as written in the document) with the statuses it declares and whether it
    /// takes a request body.
    static var operations: [String: (statuses: Set<String>, hasBody: Bool)] {
        var result: [String: (statuses: Set<String>, hasBody: Bool)] = [:]
        var path: String?
        var operation: String?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
                operation = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                operation = "\(method) \(path)"
                result[operation ?? "", default: ([], false)] = ([], false)
            } else if let operation, line.hasPrefix("      requestBody:") {
                result[operation]?.hasBody = true
            } else if let operation, line.hasPrefix("        \""), line.count >= 14,
                      let status = Int(line.dropFirst(9).prefix(3)) {
                result[operation]?.statuses.insert(String(status))
            } else if !line.hasPrefix(" ") {
                path = nil
                operation = nil
            }
        }
        return result
    }

    /// What every client must be ready for: 401 and 503 on each authenticated route (the token check), and on each
    /// route with a body 400 (not one JSON object, unknown field), 413 (over 64 KiB) and 422 (a field out of its
    /// limits). Schemathesis (`.ci/schemathesis`) checks the rest against a running broker.
    @Test func everyOperationDeclaresTheStatusesEveryRouteCanAnswer() {
        let operations = Self.operations
        #expect(operations.count == Self.documented.count, "\(operations.keys.sorted())")
        for (operation, declared) in operations.sorted(by: { $0.key < $1.key }) {
            #expect(!declared.statuses.isEmpty, "\(operation) declares no status")
            let path = operation.split(separator: " ").last.map(String.init) ?? ""
            if path.hasPrefix("/v1/"), path != "/v1/dev/jwks.json" {
                for status in ["401", "503"] where !declared.statuses.contains(status) {
                    Issue.record("\(operation) does not declare \(status)")
                }
            }
            // The Shared Signals receiver answers every refusal 400 with an RFC 8935 `err` code, as that RFC says.
            if declared.hasBody, path != "/ssf/receive" {
                for status in ["400", "413", "422"] where !declared.statuses.contains(status) {
                    Issue.record("\(operation) takes a body but does not declare \(status)")
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theDocumentMatchesTheRoutes() async throws {
        var config = try ServerSupport.configuration(url: try await TestDatabase.fresh())
        // Every optional part on, so that every route is served: the Shared Signals transmitter.
        config.settings.sharedSignalsTransmitter = SharedSignalsTransmitterSettings(
            issuer: "https://airlock.test", signer: try SecurityEventSigner.generate())
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
