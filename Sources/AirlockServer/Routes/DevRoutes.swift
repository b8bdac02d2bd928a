import Hummingbird

/// `GET /v1/dev/jwks.json`: the dev issuer's public keys, served only by `airlock dev`.
struct DevRoutes {
    let issuer: DevIssuer

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/dev/jwks.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: issuer.jwksJSON)))
        }
    }
}
