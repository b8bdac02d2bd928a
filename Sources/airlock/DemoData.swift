import AirlockPostgres
import AirlockStore
import Foundation
import Logging

/// The databases `airlock dev` creates: the broker's own (`airlock`) and the demo targets `orders` and
/// `orders_staging`, each with `customers`, `orders` and `order_items` and a few rows. No database of the demo
/// cluster grants CONNECT to PUBLIC, `postgres` and `template1` included: an issued login gets in only to its
/// resource's database (through its group role), and the superuser everywhere.
enum DemoData {
    static let brokerDatabase = "airlock"
    static let targetDatabases = ["orders", "orders_staging"]

    /// Closes every database of the cluster that accepts connections to PUBLIC (names quoted by PostgreSQL).
    static let closeEveryDatabase = """
        DO $airlock_dev$ DECLARE d name; BEGIN
          FOR d IN SELECT datname FROM pg_catalog.pg_database WHERE datallowconn LOOP
            EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', d);
          END LOOP;
        END $airlock_dev$
        """

    static func create(admin: DatabaseURL, logger: Logger) async throws {
        try await run(
            // Issued logins live in the same cluster: no database but their resource's may accept them.
            ([brokerDatabase] + targetDatabases).map { "CREATE DATABASE \($0)" } + [closeEveryDatabase],
            on: admin.with(database: "postgres"), logger: logger)
        for database in targetDatabases {
            try await run(schema + rows(staging: database.hasSuffix("staging")), on: admin.with(database: database), logger: logger)
        }
    }

    private static let schema = [
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        """
        CREATE TABLE customers (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            email text NOT NULL UNIQUE,
            country text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id bigint NOT NULL REFERENCES customers (id),
            status text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'refunded')),
            total_cents bigint NOT NULL CHECK (total_cents >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE order_items (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            order_id bigint NOT NULL REFERENCES orders (id),
            sku text NOT NULL,
            quantity integer NOT NULL CHECK (quantity > 0),
            price_cents bigint NOT NULL CHECK (price_cents >= 0)
        )
        """,
    ]

    private static func rows(staging: Bool) -> [String] {
        let domain = staging ? "staging.example" : "example.com"
        return [
            """
            INSERT INTO customers (name, email, country) VALUES
              ('Ada Lovelace', 'ada@\(domain)', 'GB'),
              ('Grace Hopper', 'grace@\(domain)', 'US'),
              ('Katherine Johnson', 'katherine@\(domain)', 'US'),
              ('Hedy Lamarr', 'hedy@\(domain)', 'AT')
            """,
            """
            INSERT INTO orders (customer_id, status, total_cents) VALUES
              (1, 'paid', 4200), (1, 'shipped', 1999), (2, 'pending', 15000), (3, 'refunded', 750), (4, 'paid', 3100)
            """,
            """
            INSERT INTO order_items (order_id, sku, quantity, price_cents) VALUES
              (1, 'KB-001', 1, 4200), (2, 'MS-010', 1, 1999), (3, 'MON-27', 1, 15000),
              (4, 'CBL-3M', 3, 250), (5, 'HUB-7', 1, 3100)
            """,
        ]
    }

    private static func run(_ statements: [String], on url: DatabaseURL, logger: Logger) async throws {
        do {
            try await Database.execute(unsafeSQL: statements, on: url, logger: logger)
        } catch {
            throw DevError("setting up the demo database `\(url.database)` failed: \(describeDatabaseError(error))")
        }
    }
}
