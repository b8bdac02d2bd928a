@testable import AirlockServer
import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Validation, error mapping and rendering, checked in-process with Hummingbird's router test mode and no
/// PostgreSQL at all: the broker is configured with a database nobody listens on, and every case here is answered
/// before a route would need it. A change to a route's decoding or to the error map is checked in a second.
@Suite(.serialized)
struct RouteContractTests {
    static let resources = """
        {"resources": [{"id": "payments-api", "kind": "token", "env": "prod", "owner": "payments", "sensitivity": 6,
          "audience": "payments-api", "roles": {"read": {"scopes": ["payments:read"]}}}]}
        """

    /// A broker whose database is unreachable, with the dev issuer for tokens.
    static func app() throws -> (app: some ApplicationProtocol, issuer: DevIssuer) {
        var config = try ServerSupport.configuration(url: try ServerSupport.unreachableURL())
        let directory = ServerSupport.writePolicies(#"permit "readers" when "sre" in principal.groups ttl <= 30m;"#)
        try Data(resources.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        config.settings.policiesDirectory = directory
        config.settings.maximumTTLSeconds = 3600
        let issuer = try DevIssuer()
        config.devIssuer = issuer
        return (try buildApplication(config: config), issuer)
    }

    @Test("bad asks get their code before anything is stored or decided")
    func askValidation() async throws {
        let (app, issuer) = try Self.app()
        let alice = try await issuer.issueToken(user: "alice", groups: ["sre"])
        let cases: [(String, HTTPResponse.Status, String)] = [
            (#"{"resource": "nope", "role": "read", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_resource"),
            (#"{"resource": "payments-api", "role": "admin", "ttl_seconds": 60, "reason": "r"}"#, .unprocessableContent, "unknown_role"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": 0, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": 3601, "reason": "r"}"#, .unprocessableContent, "invalid_ttl"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": 60"#, .badRequest, "malformed_json"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": 60, "reason": "r", "x": 1}"#, .badRequest, "unknown_field"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": "60", "reason": "r"}"#, .unprocessableContent, "validation_failed"),
            (#"{"resource": "payments-api", "role": "read", "ttl_seconds": 60}"#, .unprocessableContent, "validation_failed"),
        ]
        try await app.test(.router) { client in
            for (body, status, code) in cases {
                for path in ["/v1/access-requests", "/v1/decisions"] {
                    let answer = try await client.call(.post, path, token: alice, body: body)
                    #expect(answer.status == status, "\(path) \(body) → \(answer.json)")
                    #expect(answer.json["error"]?["code"]?.stringValue == code, "\(path) \(body) → \(answer.json)")
                    #expect(answer.json["error"]?["request_id"]?.stringValue?.isEmpty == false)
                }
            }
            let oneCall = try await client.call(.post, "/v1/credentials", token: alice,
                                                body: #"{"resource": "payments-api", "role": "read", "ttl_seconds": 99999}"#)
            #expect(oneCall.status == .unprocessableContent && oneCall.json["error"]?["code"] == "invalid_ttl")
        }
    }

    @Test("hostile renewals and revocations are refused before any lease is read")
    func leaseInput() async throws {
        let (app, issuer) = try Self.app()
        let alice = try await issuer.issueToken(user: "alice", groups: ["sre"])
        let lease = "/v1/leases/\(UUID().uuidString.lowercased())"
        let cases: [(String, String, HTTPResponse.Status, String)] = [
            (lease + "/renew", #"{"ttl_seconds": 0}"#, .unprocessableContent, "invalid_ttl"),
            (lease + "/renew", #"{"ttl_seconds": 3601}"#, .unprocessableContent, "invalid_ttl"),
            (lease + "/renew", #"{"ttl_seconds": 9223372036854775807}"#, .unprocessableContent, "invalid_ttl"),
            (lease + "/renew", #"{"ttl_seconds": "60"}"#, .unprocessableContent, "validation_failed"),
            (lease + "/renew", #"{"ttl_seconds": 60, "expires_at": "2099-01-01T00:00:00Z"}"#, .badRequest, "unknown_field"),
            (lease + "/renew", #"{"ttl_seconds": 60"#, .badRequest, "malformed_json"),
            ("/v1/leases/not-a-uuid/renew", #"{"ttl_seconds": 60}"#, .notFound, "not_found"),
            ("/v1/leases/%2e%2e%2fx/revoke", "{}", .notFound, "not_found"),
            ("/v1/leases/' OR 1=1 --/revoke", "{}", .notFound, "not_found"),
        ]
        try await app.test(.router) { client in
            for (path, body, status, code) in cases {
                let answer = try await client.call(.post, path, token: alice, body: body)
                #expect(answer.status == status, "\(path) \(body) → \(answer.json)")
                #expect(answer.json["error"]?["code"]?.stringValue == code, "\(path) \(body) → \(answer.json)")
            }
        }
    }

    @Test("who may call: no token is 401, a non-admin is 403 on admin routes, before any body is read")
    func authorization() async throws {
        let (app, issuer) = try Self.app()
        let alice = try await issuer.issueToken(user: "alice", groups: ["sre"])
        try await app.test(.router) { client in
            for (method, path) in [(HTTPRequest.Method.post, "/v1/access-requests"), (.get, "/v1/leases"),
                                   (.post, "/v1/decisions"), (.get, "/v1/tokens"), (.post, "/v1/credentials")] {
                let answer = try await client.call(method, path, token: nil, body: "{}")
                #expect(answer.status == .unauthorized, "\(path)")
                #expect(answer.json["error"]?["code"] == "missing_token", "\(path)")
            }
            let forged = try await client.call(.get, "/v1/leases", token: alice + "x")
            #expect(forged.status == .unauthorized)
            let tokens = try await client.call(.post, "/v1/tokens", token: alice, body: "not json")
            #expect(tokens.status == .forbidden && tokens.json["error"]?["code"] == "forbidden")
            let revokeAll = try await client.call(.post, "/v1/principals/bob/revoke-all", token: alice)
            #expect(revokeAll.status == .forbidden && revokeAll.json["error"]?["code"] == "forbidden")
            let onBehalf = try await client.call(.post, "/v1/decisions", token: alice, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 60, "principal": {"id": "root", "kind": "user"}}
                """)
            #expect(onBehalf.status == .forbidden, "\(onBehalf.json)")
            let badID = try await client.call(.get, "/v1/access-requests/not-a-uuid", token: alice)
            #expect(badID.status == .notFound && badID.json["error"]?["code"] == "not_found")
        }
    }

    @Test("every domain error has its status and code", arguments: [
        (BrokerError.invalidInput("x"), HTTPResponse.Status.unprocessableContent, "validation_failed"),
        (.unknownResource("x"), .unprocessableContent, "unknown_resource"),
        (.resourceNoLongerConfigured, .unprocessableContent, "unknown_resource"),
        (.unknownRole(resource: "r", role: "x", known: ["a"]), .unprocessableContent, "unknown_role"),
        (.invalidTTL(maximum: 60), .unprocessableContent, "invalid_ttl"),
        (.notFound("x"), .notFound, "not_found"),
        (.forbidden("x"), .forbidden, "forbidden"),
        (.selfApproval("x"), .forbidden, "self_approval"),
        (.notAnApprover("x"), .forbidden, "not_an_approver"),
        (.alreadyReviewed("x"), .conflict, "already_reviewed"),
        (.closed("x"), .conflict, "request_closed"),
        (.notApproved("x"), .conflict, "not_approved"),
        (.alreadyRetrieved("x"), .gone, "already_retrieved"),
        (.policyDenied(PolicyRefusal(message: "no", decision: .defaultDeny)), .forbidden, "policy_denied"),
        (.issuanceFailed("x", atTarget: true), .badGateway, "issuance_failed"),
        (.issuanceFailed("x", atTarget: false), .internalServerError, "issuance_failed"),
        (.renewalFailed("x"), .badGateway, "renewal_failed"),
    ])
    func errorMap(error: BrokerError, status: HTTPResponse.Status, code: String) throws {
        let mapped = APIError.from(error, logger: Logger(label: "test"))
        #expect(mapped.status == status)
        let body = mapped.body(requestID: "req-1")
        #expect(body["error"]?["code"]?.stringValue == code)
        #expect(body["error"]?["message"]?.stringValue == error.message)
        #expect(body["error"]?["request_id"] == "req-1")
    }

    @Test("a policy refusal carries its decision, explanation and request; an unmapped error is a bare 500")
    func rendering() throws {
        let decision = Decision(outcome: .pendingApproval, ttlSeconds: 600, rules: ["r"],
                                approvals: [.init(rule: "r", requires: [.init(group: "owners", count: 1)])])
        let id = UUID()
        let refusal = BrokerError.policyDenied(PolicyRefusal(
            message: "pending", decision: decision, accessRequestID: id, status: .pendingApproval))
        let body = APIError.from(refusal, logger: Logger(label: "test")).body(requestID: "r")
        #expect(body["decision"] == decision.stored)
        #expect(body["access_request_id"]?.stringValue == id.uuidString.lowercased())
        #expect(body["status"] == "pending_approval")

        struct Leaky: Error, CustomStringConvertible { var description: String { "password=hunter2" } }
        let generic = APIError.from(Leaky(), logger: Logger(label: "test"))
        #expect(generic.status == .internalServerError)
        let text = generic.body(requestID: "r").canonicalString()
        #expect(text.contains("internal_error") && !text.contains("hunter2"))
    }
}
