import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

@Suite("Configuration of secrets: master keys and the database password", .timeLimit(.minutes(2)))
struct ConfigurationSecretsTests {
    @Test("AIRLOCK_MASTER_KEY (surrounding whitespace ignored) becomes the current key")
    func masterKeyFromEnvironment() throws {
        let key = KeyEncryptionKey.generate()
        let config = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_MASTER_KEY": " \(key.text)\n"])
        let ring = try #require(config.keyRing)
        #expect(ring.current.id == key.id)
        #expect(ring.current == key)
        #expect(ring.previous.isEmpty)
        #expect(try config.requireKeyRing().current.id == key.id)
    }

    /// Bogus values that look like secrets; none may appear in the error.
    static let bogusKeys = [
        "akek1_" + String(repeating: "Q", count: 42),
        "akek1_" + String(repeating: "Zz9", count: 14) + "+",
        "akek2_" + String(repeating: "s", count: 43),
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ]

    @Test("an invalid AIRLOCK_MASTER_KEY is an error that never quotes the value", arguments: bogusKeys)
    func invalidMasterKey(bogus: String) throws {
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_MASTER_KEY": bogus])
        }
        #expect(error?.key == "AIRLOCK_MASTER_KEY")
        #expect(error?.message.isEmpty == false)
        #expect(error?.description.contains(bogus) == false)
        #expect(error?.description.contains(String(bogus.dropFirst(6).prefix(12))) == false)
    }

    @Test("keys.master_key_file supplies the current key; AIRLOCK_MASTER_KEY wins over it")
    func masterKeyFile() throws {
        let dir = try TemporaryDirectory()
        let fileKey = KeyEncryptionKey.generate()
        let path = try dir.writeSecret("master.key", fileKey.text + "\n")
        let fromFile = try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_KEYS_MASTER_KEY_FILE": path])
        #expect(fromFile.keyRing?.current.id == fileKey.id)

        let config = try dir.write("c.json", #"{"keys": {"master_key_file": "\#(path)"}}"#)
        #expect(try AirlockConfiguration.load(file: config, environment: [:]).keyRing?.current.id == fileKey.id)

        let envKey = KeyEncryptionKey.generate()
        let both = try AirlockConfiguration.load(file: config, environment: ["AIRLOCK_MASTER_KEY": envKey.text])
        #expect(both.keyRing?.current.id == envKey.id)
    }

    @Test("a bad or missing master key file is an error naming the file, never its content")
    func badMasterKeyFile() throws {
        let dir = try TemporaryDirectory()
        let secretish = "akek1_" + String(repeating: "x", count: 40)
        let path = try dir.writeSecret("master.key", secretish)
        let bad = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: [:], overrides: ["keys.master_key_file": path])
        }
        #expect(bad?.key == "keys.master_key_file")
        #expect(bad?.message.contains(path) == true)
        #expect(bad?.description.contains(secretish) == false)

        let missing = dir.missing("absent.key")
        let absent = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_KEYS_MASTER_KEY_FILE": missing])
        }
        #expect(absent?.key == "keys.master_key_file")
        #expect(absent?.message.contains(missing) == true)
    }

    @Test("previous keys come from AIRLOCK_PREVIOUS_MASTER_KEYS and keys.previous_key_files, in order")
    func previousKeys() throws {
        let dir = try TemporaryDirectory()
        let current = KeyEncryptionKey.generate()
        let (first, second, third) = (KeyEncryptionKey.generate(), KeyEncryptionKey.generate(), KeyEncryptionKey.generate())
        let thirdPath = try dir.writeSecret("third.key", third.text)
        let config = try dir.write("c.json", #"{"keys": {"previous_key_files": ["\#(thirdPath)"]}}"#)
        let loaded = try AirlockConfiguration.load(file: config, environment: [
            "AIRLOCK_MASTER_KEY": current.text, "AIRLOCK_PREVIOUS_MASTER_KEYS": "\(first.text), \(second.text)",
        ])
        let ring = try #require(loaded.keyRing)
        #expect(ring.current.id == current.id)
        #expect(ring.previous.map(\.id) == [first.id, second.id, third.id])
        #expect(ring.key(id: second.id) == second)
    }

    @Test("a bad previous key is an error that never quotes it")
    func badPreviousKey() throws {
        let bogus = "akek1_" + String(repeating: "P", count: 44)
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: [
                "AIRLOCK_MASTER_KEY": KeyEncryptionKey.generate().text,
                "AIRLOCK_PREVIOUS_MASTER_KEYS": "\(KeyEncryptionKey.generate().text),\(bogus)",
            ])
        }
        #expect(error?.key == "AIRLOCK_PREVIOUS_MASTER_KEYS")
        #expect(error?.description.contains(bogus) == false)
    }

    @Test("previous keys without a current one are refused")
    func previousWithoutCurrent() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(
                file: nil, environment: ["AIRLOCK_PREVIOUS_MASTER_KEYS": KeyEncryptionKey.generate().text])
        }
        #expect(error?.key == "keys.master_key_file")
        #expect(error?.message.contains("no current") == true)
    }

    @Test("database.password_file supplies the password, which the URL's description hides")
    func passwordFile() throws {
        let dir = try TemporaryDirectory()
        let password = "Tr0ub4dor-&3-horse"
        let path = try dir.writeSecret("db.password", password + "\n")
        let config = try AirlockConfiguration.load(file: nil, environment: [
            "AIRLOCK_DATABASE_URL": "postgres://broker@127.0.0.1:5432/airlock",
            "AIRLOCK_DATABASE_PASSWORD_FILE": path,
        ])
        let url = try #require(config.databaseURL)
        #expect(url.password == password)
        #expect(url.username == "broker")
        #expect(!url.description.contains(password))
        #expect(!String(describing: config.databaseURL).contains(password))
        #expect(url.description.contains("broker:***@"))
    }

    @Test("the password file wins over a password in the URL")
    func passwordFileOverridesURLPassword() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.writeSecret("db.password", "from-file")
        let config = try AirlockConfiguration.load(file: nil, environment: [:], overrides: [
            "database.url": "postgres://broker:in-url@127.0.0.1/airlock", "database.password_file": path,
        ])
        #expect(config.databaseURL?.password == "from-file")
    }

    @Test("an unreadable password file is an error naming the setting and the path")
    func missingPasswordFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.missing("db.password")
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: [
                "AIRLOCK_DATABASE_URL": "postgres://broker@127.0.0.1/airlock", "AIRLOCK_DATABASE_PASSWORD_FILE": path,
            ])
        }
        #expect(error?.key == "database.password_file")
        #expect(error?.message.contains(path) == true)
    }

    @Test("a key or password file that others may read, or that belongs to another user, is refused naming the file and the fix",
          arguments: ["keys.master_key_file", "keys.previous_key_files", "database.password_file"])
    func exposedSecretFile(setting: String) throws {
        let dir = try TemporaryDirectory()
        let content = setting == "database.password_file" ? "db-password-\(UUID().uuidString)" : KeyEncryptionKey.generate().text
        let path = try dir.writeSecret("secret", content)
        let config = try dir.write("c.json", #"{"keys": {"previous_key_files": ["\#(path)"]}}"#)
        let load = {
            switch setting {
            case "keys.master_key_file":
                try AirlockConfiguration.load(file: nil, environment: [:], overrides: [setting: path])
            case "keys.previous_key_files":
                try AirlockConfiguration.load(file: config, environment: ["AIRLOCK_MASTER_KEY": KeyEncryptionKey.generate().text])
            default:
                try AirlockConfiguration.load(file: nil, environment: [
                    "AIRLOCK_DATABASE_URL": "postgres://broker@127.0.0.1/airlock", "AIRLOCK_DATABASE_PASSWORD_FILE": path,
                ])
            }
        }
        #expect(throws: Never.self) { _ = try load() }
        for mode: mode_t in [0o640, 0o604, 0o644, 0o660, 0o602] {
            chmod(path, mode)
            let error = #expect(throws: ConfigurationError.self, "mode \(String(mode, radix: 8))") { _ = try load() }
            #expect(error?.key == setting)
            #expect(error?.message.contains("`\(path)`") == true)
            #expect(error?.message.contains("chmod 600 \(path)") == true, "\(error?.message ?? "")")
            #expect(error?.description.contains(content) == false)
        }
        chmod(path, 0o600)
        // Tests run as root here; as another user a file cannot be given away, so that case is root's to check.
        if geteuid() == 0 {
            #expect(chown(path, 65534, 65534) == 0)
            let error = #expect(throws: ConfigurationError.self) { _ = try load() }
            #expect(error?.key == setting)
            #expect(error?.message.contains("`\(path)`") == true && error?.message.contains("owned by uid 65534") == true,
                    "\(error?.message ?? "")")
            #expect(error?.description.contains(content) == false)
        }
    }

    @Test("an invalid database URL never echoes its password", arguments: [
        "postgres://broker:hunter2-Secret@127.0.0.1:99999/airlock",
        "postgres://broker:hunter2-Secret@127.0.0.1/airlock?sslmode=verify-maybe",
        "postgres://broker:hunter2-Secret@127.0.0.1/",
        "mysql://broker:hunter2-Secret@127.0.0.1/airlock",
    ])
    func databaseURLErrorHidesPassword(url: String) throws {
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: ["AIRLOCK_DATABASE_URL": url])
        }
        #expect(error?.key == "database.url")
        #expect(error?.message.contains("from AIRLOCK_DATABASE_URL") == true)
        #expect(error?.description.contains("hunter2-Secret") == false)
    }
}
