import AirlockBroker
import AirlockCore
import Foundation
import Hummingbird

/// `POST /ssf/receive`: the Shared Signals push receiver (RFC 8935, issue 16).
///
/// The body is one Security Event Token, `Content-Type: application/secevent+jwt`, at most 64 KiB, with
/// `Authorization: Bearer TOKEN` of a configured transmitter. A SET that passes every check
/// (``SecurityEventTokenVerifier``) is recorded, acted on (``SharedSignalsReceiver``) and answered 202 with no body;
/// anything else is 400 with `{"err", "description"}`, and nothing is recorded. A `jti` received before is
/// `invalid_request`. Outside `/v1`, so the API's authentication leaves it alone: a transmitter holds no airlock
/// token, only the authorization token configured for it.
struct SharedSignalsReceiverRoutes {
    let verifier: SecurityEventTokenVerifier
    let receiver: SharedSignalsReceiver
    let clockSkewSeconds: Int

    /// The largest SET accepted.
    static let limit = 64 * 1024
    /// The media type of a pushed SET.
    static let mediaType = "application/secevent+jwt"

    func register(on router: Router<AirlockRequestContext>) {
        router.post("ssf/receive") { request, context in try await receive(request, context) }
    }

    func receive(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let logger = context.logger
        do {
            let type = request.headers[.contentType]?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard type == Self.mediaType else {
                throw SETRefusal(.invalidRequest, "the body must be a SET, `Content-Type: \(Self.mediaType)`")
            }
            let authorization = request.headers[values: .authorization]
            guard authorization.count <= 1 else {
                throw SETRefusal(.authenticationFailed, "the request has more than one authorization header")
            }
            let transmitter = try verifier.authenticate(authorization: authorization.first)
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: Self.limit)
            } catch {
                throw SETRefusal(.invalidRequest, "the SET is larger than 64 KiB")
            }
            let token = String(decoding: buffer.readableBytesView, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let event = try await verifier.verify(token, from: transmitter)
            let configuration = transmitter.configuration
            let mapping = event.knownEvent.flatMap(configuration.signal(for:))
            let replayableUntil = event.issuedAt.addingTimeInterval(
                TimeInterval(configuration.maximumAgeSeconds + clockSkewSeconds))
            let outcome = try await receiver.receive(
                event, mapping: mapping, replayableUntil: replayableUntil, logger: logger)
            let described: String
            switch outcome {
            case .replayed:
                throw SETRefusal(.invalidRequest, "a SET with this `jti` was received before")
            case .signal(let signal): described = "signal \(signal.name) on \(signal.principal)"
            case .verification: described = "verification"
            case .ignored(let reason): described = "ignored: \(reason)"
            }
            logger.info(
                "shared signal received",
                metadata: [
                    "transmitter": "\(event.transmitter)", "jti": "\(event.jti)", "event": "\(event.eventType)",
                    "outcome": "\(described)",
                ])
            return Response(status: .accepted)
        } catch let refusal as SETRefusal {
            // Never the SET or a token: the code and the description say enough to the operator.
            logger.warning(
                "shared signal refused", metadata: ["err": "\(refusal.code.rawValue)", "why": "\(refusal.description)"])
            return JSONResponse.make(
                .object(["err": .string(refusal.code.rawValue), "description": .string(refusal.description)]),
                status: .badRequest)
        }
    }
}
