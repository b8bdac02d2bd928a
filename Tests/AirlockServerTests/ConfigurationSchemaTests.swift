import AirlockServer
import AirlockStore
import Testing

/// `database.schema` (issue 11 item 6): default `public`, validated as an identifier.
@Suite("The database.schema setting")
struct ConfigurationSchemaTests {
    @Test func defaultsToPublic() throws {
        #expect(try AirlockConfiguration.load(file: nil, environment: [:]).databaseSchema == .public)
    }

    @Test func readFromTheEnvironment() throws {
        let config = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_DATABASE_SCHEMA": "airlock"])
        #expect(config.databaseSchema.name == "airlock")
    }

    @Test("a name that is not a plain identifier stops start-up", arguments: ["Airlock", "pg_temp", "a.b", "x\"y", ""])
    func refused(name: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_DATABASE_SCHEMA": name])
        }
        #expect(error?.key == "database.schema")
        #expect(error?.message.contains("AIRLOCK_DATABASE_SCHEMA") == true)
    }
}
