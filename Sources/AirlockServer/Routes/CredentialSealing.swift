import AirlockBroker
import AirlockCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Credentials sealed to the caller's key (`Airlock-Seal-Suite`, `Airlock-Seal-Key`; ``CredentialSeal``): read
/// before anything is issued, so a bad key refuses the request and mints nothing; applied to the answer after.
struct CredentialSealing {
    static let suiteHeader = HTTPField.Name(CredentialSeal.suiteHeader)!
    static let keyHeader = HTTPField.Name(CredentialSeal.keyHeader)!

    /// The key `request` asks its credential to be sealed to; nil when it asks for none. Refused (400) when only
    /// one of the two headers is sent, a header is given twice, the suite is not supported or the key is not one.
    static func recipient(of request: Request) throws -> XWingMLKEM768X25519.PublicKey? {
        let suites = request.headers[values: suiteHeader], keys = request.headers[values: keyHeader]
        if suites.isEmpty && keys.isEmpty { return nil }
        guard suites.count == 1, keys.count == 1 else {
            throw APIError(.badRequest, code: "invalid_seal_key",
                           message: "send Airlock-Seal-Suite and Airlock-Seal-Key together, once each")
        }
        do {
            return try CredentialSeal.recipient(suite: suites[0], publicKey: keys[0])
        } catch {
            throw APIError(.badRequest, code: error.code.rawValue, message: error.description)
        }
    }

    /// The credential answer `fields`, sealed to `recipient` when there is one: what says which lease it is and
    /// when it ends stays readable, the whole answer (secret included) is in `sealed`.
    static func answer(
        _ fields: [String: JSONValue], lease: UUID, sealedTo recipient: XWingMLKEM768X25519.PublicKey?,
        status: HTTPResponse.Status = .ok
    ) throws -> Response {
        guard let recipient else { return JSONResponse.secret(.object(fields), status: status) }
        let (encapsulatedKey, ciphertext) = try CredentialSeal.seal(
            JSONValue.object(fields).canonicalData(), to: recipient, lease: lease)
        var shown = fields.filter { ["kind", "expires_at", "lease_id", "access_request_id"].contains($0.key) }
        shown["sealed"] = .object([
            "suite": .string(CredentialSeal.suite), "enc": .string(Base64URL.encode(Array(encapsulatedKey))),
            "ciphertext": .string(Base64URL.encode(Array(ciphertext))),
        ])
        return JSONResponse.secret(.object(shown), status: status)
    }
}
