import Foundation

/// What `airlock dev` prints once the broker listens: where everything is, and what to try next.
struct DevBanner: Sendable {
    let brokerURL: String
    let databaseURL: String
    let targetDatabaseURL: String
    /// The dev admin token (`alk_...`, scopes admin and auditor): printed once, for this throwaway broker.
    let adminToken: String
    let stateDirectory: String
    /// The `airlock agent` walkthrough's configuration (``DevAgentExample``).
    let agentConfiguration: String
    let keep: Bool
    let policies: String

    func print(json: Bool) {
        if json {
            let object: [String: Any] = [
                "broker_url": brokerURL,
                "console_url": brokerURL + "/console",
                "admin_token": adminToken,
                "database_url": databaseURL,
                "target_database_url": targetDatabaseURL,
                "state_dir": stateDirectory,
                "agent_config": agentConfiguration,
            ]
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
        } else {
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }

    var text: String {
        """

        Airlock is running in dev mode.

          broker           \(brokerURL)
          console          \(brokerURL)/console   (sign in as anyone: alice/sre, bob/backend, carol/db-owners,
                           an admin in airlock-admins, an auditor in auditors; Docs/console.md)
          broker database  \(databaseURL)
          demo target      \(targetDatabaseURL)
                           (superuser, for inspection; also orders_staging)
          admin token      \(adminToken)
          policies         \(policies)
          state            \(stateDirectory)\(keep ? " (kept on exit)" : " (removed on exit)")

        Try next:
          swift run airlock login --dev alice --groups sre --mfa
          swift run airlock request orders-db --role readonly --ttl 30m --reason "INC-4411 orders stuck" --wait
          swift run airlock login --dev bob --groups backend
          swift run airlock request orders-db --role readwrite --ttl 30m --reason "fix order 42"
          swift run airlock login --dev carol --groups db-owners && swift run airlock pending
          swift run airlock login --dev erin --groups backend --manager gina
          swift run airlock request orders-db --role readonly --ttl 30m --reason "ticket 1187"   # the owning team approves
          swift run airlock leases                      # then: airlock renew ID --ttl 1h, airlock revoke ID
          swift run airlock login --dev ci-orders --groups ci --service
          swift run airlock credentials payments-api --role read --ttl 10m   # an alkc_ token in one call
          swift run airlock agent --config \(agentConfiguration) --dry-run
          swift run airlock agent --config \(agentConfiguration) --log-format text -- sleep 3600
                           # a service's login kept fresh, in files beside it and in the command's PG* (Docs/agent.md)
          swift run airlock audit tail --token <the admin token>
          swift run airlock webhooks add http://127.0.0.1:9000/ --token <the admin token>   # alerts: Docs/alerts.md
          curl -s \(brokerURL)/readyz
          curl -s \(brokerURL)/metrics | head
          swift run airlock policy check && swift run airlock policy test
          psql '\(targetDatabaseURL)' -c 'SELECT * FROM customers'
          AIRLOCK_DATABASE_URL='\(databaseURL)' swift run airlock migrate --status
          AIRLOCK_DATABASE_URL='\(databaseURL)' swift run airlock audit verify

        Press Ctrl-C to stop: the broker, then PostgreSQL, and every file of this run is removed\(keep ? " (except with --keep)" : "").

        """
    }
}
