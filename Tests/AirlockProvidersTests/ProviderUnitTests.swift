import AirlockCore
import Foundation
import Testing

@testable import AirlockProviders

@Suite struct SQLIdentifierTests {
    @Test(arguments: [
        "a\"; DROP TABLE x; --", "Orders", "", String(repeating: "a", count: 64), "ordérs", "1abc", "a b", "a-b",
        "a\u{0}b", "\"x\"", "airlock_ü", "a;b",
    ])
    func rejects(_ name: String) {
        #expect(!SQLIdentifier.isValid(name))
        #expect(throws: ProviderError.self) { try SQLIdentifier.quoted(name) }
    }

    @Test(arguments: ["a", "_x", "orders", "airlock_readonly_0a1b2c3d4e5f", String(repeating: "z", count: 63)])
    func quotesValidNames(_ name: String) throws {
        #expect(try SQLIdentifier.quoted(name) == "\"\(name)\"")
    }

    @Test func rejectionMessageDoesNotEchoInput() {
        let hostile = "x'; SELECT pg_sleep(10); --"
        #expect(performing: { try SQLIdentifier.quoted(hostile) }, throws: { error in
            !String(describing: error).contains(hostile) && (error as? ProviderError)?.code == "invalid_identifier"
        })
    }

    @Test func groupRoleNamesAreCheckedAndFit() throws {
        let name = try PostgresStatements.groupRoleName(resourceID: "orders-db", template: "readonly", database: "orders")
        #expect(name == PostgresRoleNames.groupRole(resourceID: "orders-db", template: "readonly", database: "orders"))
        #expect(name.hasPrefix("airlock_g_orders_db_readonly_") && SQLIdentifier.isValid(name))
        let longID = String(repeating: "a", count: 60)
        let first = try PostgresStatements.groupRoleName(resourceID: longID + "-x", template: "readonly", database: "d")
        let second = try PostgresStatements.groupRoleName(resourceID: longID + "-y", template: "readonly", database: "d")
        #expect(first.utf8.count <= 63 && second.utf8.count <= 63)
        #expect(SQLIdentifier.isValid(first) && SQLIdentifier.isValid(second))
        #expect(first != second)
        #expect(throws: ProviderError.self) {
            try PostgresStatements.groupRoleName(resourceID: "Orders", template: "ro", database: "d")
        }
        #expect(throws: ProviderError.self) {
            try PostgresStatements.groupRoleName(resourceID: "db", template: "x\"y", database: "d")
        }
        #expect(throws: ProviderError.self) {
            try PostgresStatements.groupRoleName(resourceID: "db", template: "ro", database: "d; drop")
        }
    }

    @Test func loginNamesAreRandomAndTemplatesOutsideTheGroupRoleNamespace() throws {
        let names = try (0..<100).map { _ in try PostgresStatements.loginRoleName(template: "readonly") }
        #expect(Set(names).count == 100)
        for name in names {
            #expect(name.hasPrefix("airlock_readonly_") && name.utf8.count == 29 && SQLIdentifier.isValid(name))
        }
        #expect(throws: ProviderError.self) { try PostgresStatements.loginRoleName(template: "g_reader") }
    }

    @Test func timestampLiteralIsUTCWithMicroseconds() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        #expect(try PostgresStatements.timestampLiteral(date) == "'2023-11-14 22:13:20.250000+00'")
        #expect(throws: ProviderError.self) { try PostgresStatements.timestampLiteral(Date(timeIntervalSince1970: 1e12)) }
        #expect(throws: ProviderError.self) { try PostgresStatements.timestampLiteral(Date(timeIntervalSince1970: .nan)) }
    }
}

@Suite struct SCRAMVerifierTests {
    /// RFC 7677 section 3: user `user`, password `pencil`.
    static let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==") ?? Data())
    static let authMessage = "n=user,r=rOprNGfwEbeRWgbNEkqO,"
        + "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        + "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

    @Test func knownAnswerFromRFC7677() throws {
        let verifier = try SCRAMVerifier(password: "pencil", salt: Self.salt, iterations: 4096)
        #expect(Data(verifier.serverSignature(authMessage: Self.authMessage)).base64EncodedString()
            == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        let proof = Array(Data(base64Encoded: "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") ?? Data())
        #expect(verifier.verifies(clientProof: proof, authMessage: Self.authMessage))
        #expect(!verifier.verifies(clientProof: proof.reversed(), authMessage: Self.authMessage))
        // StoredKey and ServerKey as computed independently (Python hashlib/hmac).
        #expect(verifier.text == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
            + "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    }

    @Test func freshVerifiersUseRandomSaltsAndNeverContainThePassword() throws {
        let password = "Secr3tPassw0rdThatIsLongEnough1234567890"
        let first = try SCRAMVerifier(password: password)
        let second = try SCRAMVerifier(password: password)
        #expect(first.salt.count == 16 && first.salt != second.salt)
        #expect(try first.sqlLiteral().hasPrefix("'SCRAM-SHA-256$4096:"))
        #expect(!first.text.contains(password))
        #expect(throws: ProviderError.self) { try SCRAMVerifier(password: "has space") }
        #expect(throws: ProviderError.self) { try SCRAMVerifier(password: "") }
    }
}

@Suite struct CredentialRedactionTests {
    @Test func descriptionsHideThePassword() {
        let password = "pw" + String(repeating: "Z", count: 38)
        let credential = PostgresCredential(
            username: "airlock_readonly_abc", password: password, host: "db", port: 5432, database: "orders",
            sslMode: "require", expiresAt: Date(), leaseID: UUID())
        var dumped = ""
        dump(credential, to: &dumped)
        for text in [String(describing: credential), String(reflecting: credential), "\(credential)", dumped] {
            #expect(!text.contains(password))
            #expect(text.contains("airlock_readonly_abc"))
        }
        #expect(credential.dsn == "postgresql://airlock_readonly_abc:\(password)@db:5432/orders?sslmode=require")
    }

    @Test func providerErrorsRedactSecrets() {
        let error = ProviderError(code: "x", message: "failed with hunter2 inside", redacting: ["hunter2"])
        #expect(error.description == "x: failed with *** inside")
    }
}
