import AirlockAudit
import AirlockCore
import AirlockPolicy
import Foundation
import Testing

/// The HTTP transport's outbound safety (issue 14): addresses judged after resolution, at every delivery; no
/// redirects; bounded answers; timeouts. Against a real receiver on loopback.
@Suite(.serialized)
struct WebhookTransportTests {
    static func webhook(_ url: String, secret: WebhookSecret) -> OutgoingWebhook {
        let body = Array(#"{"specversion":"1.0","id":"t1","type":"airlock.test"}"#.utf8)
        let timestamp = Int64(Date().timeIntervalSince1970)
        return OutgoingWebhook(
            url: url, id: "t1", timestamp: timestamp,
            signature: WebhookSignature.header(id: "t1", timestamp: timestamp, body: body, keys: [.hmac(secret)]),
            body: body)
    }

    @Test("a name that resolves to a refused address is not posted to, whatever the name; an allowed one is")
    func resolvedAddressesAreJudged() async throws {
        try await WebhookReceiver.with { receiver in
            let secret = WebhookSecret.generate()
            receiver.expect(secret: secret)
            let url = "https://hooks.example.test:\(receiver.port)/hook"
            for (resolved, mentions) in [
                (["169.254.169.254"], "169.254.0.0/16"), (["10.0.0.7"], "10.0.0.0/8"),
                (["93.184.215.14", "127.0.0.1"], "loopback"), (["::ffff:192.168.0.1"], "192.168.0.0/16"),
            ] {
                let transport = HTTPWebhookTransport(policy: WebhookAddressPolicy(), resolve: { _ in resolved })
                let answer = await transport.post(Self.webhook(url, secret: secret))
                guard case .failed(let reason) = answer else {
                    Issue.record("posted to \(resolved): \(answer)")
                    continue
                }
                #expect(reason.contains("refused webhook address") && reason.contains(mentions), "\(reason)")
                await transport.shutdown()
            }
            #expect(receiver.received.isEmpty)

            // Development mode: loopback allowed, over http; the name is pinned to the address it resolved to.
            let dev = HTTPWebhookTransport(
                policy: WebhookAddressPolicy(allowsLoopback: true), resolve: { _ in ["127.0.0.1"] })
            let posted = await dev.post(Self.webhook("http://localhost:\(receiver.port)/hook", secret: secret))
            #expect(posted == .status(204, retryAfterSeconds: nil), "\(posted)")
            #expect(receiver.received.count == 1)
            // http to a name that is not loopback is refused even in development mode.
            let plain = await dev.post(Self.webhook("http://hooks.example.test:\(receiver.port)/hook", secret: secret))
            #expect(plain == .failed(reason: "a webhook url must be https (http only to a loopback host in development mode)"))
            #expect(receiver.received.count == 1)
            await dev.shutdown()
        }
    }

    @Test("redirects are not followed, an endless answer is cut off, a receiver that hangs times out")
    func misbehavingReceivers() async throws {
        try await WebhookReceiver.with { receiver in
            let secret = WebhookSecret.generate()
            receiver.expect(secret: secret)
            // The default timeouts for the answers (a loaded test machine may take a second to serve 16 MiB), a
            // short one for the receiver that hangs.
            let transport = HTTPWebhookTransport(policy: WebhookAddressPolicy(allowsLoopback: true))
            let impatient = HTTPWebhookTransport(
                policy: WebhookAddressPolicy(allowsLoopback: true), totalTimeout: .seconds(1))
            let base = "http://127.0.0.1:\(receiver.port)"
            #expect(await transport.post(Self.webhook(base + "/redirect", secret: secret)) == .status(307, retryAfterSeconds: nil))
            #expect(receiver.received.isEmpty, "the redirect was followed")
            #expect(await transport.post(Self.webhook(base + "/huge", secret: secret)) == .status(200, retryAfterSeconds: nil))
            receiver.mode = .down(retryAfterSeconds: 120)
            #expect(await transport.post(Self.webhook(base + "/hook", secret: secret)) == .status(503, retryAfterSeconds: 120))
            receiver.mode = .hang
            let started = ContinuousClock.now
            let hung = await impatient.post(Self.webhook(base + "/hook", secret: secret))
            guard case .failed(let reason) = hung else {
                Issue.record("a hanging receiver answered: \(hung)")
                return
            }
            #expect(reason.contains("no answer within 1 s"), "\(reason)")
            #expect(ContinuousClock.now - started < .seconds(5))
            await transport.shutdown()
            await impatient.shutdown()
        }
    }

    @Test("Retry-After is read as seconds or as an HTTP date")
    func retryAfter() {
        #expect(HTTPWebhookTransport.retryAfter("120") == 120)
        #expect(HTTPWebhookTransport.retryAfter(" 0 ") == 0)
        #expect(HTTPWebhookTransport.retryAfter("soon") == nil)
        let date = Date().addingTimeInterval(90)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let seconds = HTTPWebhookTransport.retryAfter(formatter.string(from: date)) ?? -1
        #expect((88...91).contains(seconds), "\(seconds)")
    }
}
