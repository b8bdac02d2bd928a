import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// Issue 11 item 4: a setting written both flat and nested used to resolve by dictionary order (either value could
/// win from one run to the next). Now the file is refused, naming both spellings.
@Suite("A setting given twice in one config file", .timeLimit(.minutes(1)))
struct ConfigurationDuplicateKeyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let json: String
        let key: String
        /// The two spellings the message must name.
        let spellings: [String]
        var testDescription: String { json }
    }

    static let flatAndNested: [Case] = [
        Case(json: #"{"database.url": "postgres://a@h/one", "database": {"url": "postgres://b@h/two"}}"#,
             key: "database.url", spellings: [#""database.url""#, #""database": {"url"}"#]),
        Case(json: #"{"database": {"max_connections": 5}, "database.max_connections": 6}"#,
             key: "database.max_connections", spellings: [#""database.max_connections""#, #""database": {"max_connections"}"#]),
        Case(json: #"{"log": {"level": "debug"}, "log.level": null}"#,
             key: "log.level", spellings: [#""log.level""#, #""log": {"level"}"#]),
        Case(json: #"{"limits": {"address_rate": 1}, "limits.address_rate": 1}"#,
             key: "limits.address_rate", spellings: [#""limits.address_rate""#, #""limits": {"address_rate"}"#]),
    ]

    @Test("flat and nested spellings of one key are refused, naming both", arguments: flatAndNested)
    func flatAndNestedRefused(_ duplicate: Case) throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", duplicate.json)
        // Several loads: before the fix the outcome depended on the dictionary's order; now every load refuses.
        for _ in 0..<5 {
            let error = #expect(throws: ConfigurationError.self) {
                try AirlockConfiguration.load(file: file, environment: [:])
            }
            #expect(error?.key == duplicate.key)
            for spelling in duplicate.spellings {
                #expect(error?.message.contains("`\(spelling)`") == true, "\(error?.message ?? "no error") names \(spelling)")
            }
            #expect(error?.message.contains(file) == true)
        }
    }

    @Test("a member repeated inside one object is refused rather than the first silently kept", arguments: [
        #"{"log": {"level": "debug", "level": "error"}}"#,
        #"{"log": {"level": "debug"}, "log": {"format": "json"}}"#,
        #"{"database.url": "postgres://a@h/one", "database.url": "postgres://b@h/two"}"#,
    ])
    func repeatedMemberRefused(json: String) throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", json)
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: file, environment: [:])
        }
        #expect(error?.message.contains("duplicate object key") == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains(file) == true)
    }

    @Test("one spelling per key still loads, and the environment still overrides the file")
    func oneSpellingLoads() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", #"{"database.url": "postgres://a@h/one", "database": {"max_connections": 9}}"#)
        let config = try AirlockConfiguration.load(file: file, environment: ["AIRLOCK_DATABASE_MAX_CONNECTIONS": "11"])
        #expect(config.databaseURL?.database == "one")
        #expect(config.databaseMaxConnections == 11)
    }
}
