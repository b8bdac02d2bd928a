import AirlockCore
import Hummingbird

/// `GET /.well-known/airlock-audit-keys` (no token: it holds only public keys): the keys that verify this broker's
/// audit checkpoints, `{"keys": [{"alg", "key_id", "public_key"}]}` (standard base64 of the raw keys), an empty list
/// when no checkpoint key is configured. Receivers save it and pass it to `airlock audit verify --keys`.
struct AuditKeyRoutes {
    /// The public halves only: the route cannot answer with what it is not given.
    let keys: AuditCheckpointKeySet

    func register(on router: Router<AirlockRequestContext>) {
        let body = keys.json
        router.get(".well-known/airlock-audit-keys") { _, _ in
            JSONResponse.make(body)
        }
    }
}
