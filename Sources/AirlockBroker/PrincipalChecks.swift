import AirlockCore

extension Principal {
    /// Refuses a caller that is no principal of its own (an `alk_` token without the `service` scope) with
    /// `forbidden`: asking, what-ifs for oneself, picking up, owning leases and requests, reviewing.
    func requireActingAsPrincipal() throws(BrokerError) {
        guard actsAsPrincipal else {
            throw .forbidden(
                "this airlock token has no `service` scope, so it does not act as a principal (it cannot ask, "
                    + "pick up, hold leases or review)")
        }
    }
}
