import AirlockAudit
import AirlockCore
import Foundation
import Testing

/// A PostgreSQL login's creation and drop as OCSF Account Change 3001, in addition to the credential's User Access
/// Management 3005 record; every record of every sample checked against the vendored class definitions.
struct OCSFAccountChangeTests {
    static func records(_ event: JSONValue) throws -> [JSONValue] {
        try OCSFRecord.records(for: event, productVersion: OCSFRecordTests.productVersion)
    }

    @Test("every record of every sample is accepted by its OCSF 1.8.0 class and carries the common attributes",
          arguments: AuditEventSample.all)
    func everyRecordConforms(_ sample: AuditEventSample) throws {
        let validator = try OCSFSchemaValidator()
        let records = try Self.records(sample.event)
        #expect(records.first == (try OCSFRecord.record(for: sample.event, productVersion: OCSFRecordTests.productVersion)))
        for record in records {
            #expect(validator.problems(in: record) == [], "class \(record["class_uid"] ?? nil)")
            for key in ["class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"] {
                #expect(record[key]?.intValue != nil, "`\(key)` missing from class \(record["class_uid"] ?? nil)")
            }
            #expect(record["metadata"]?["version"] == "1.8.0")
            #expect(record["metadata"]?["product"]?["name"] == "Airlock")
            #expect(record["metadata"]?["original_event_uid"] == sample.event["id"])
            #expect(record["unmapped"] == sample.event)
        }
        let uids = records.compactMap { $0["metadata"]?["uid"]?.stringValue }
        #expect(Set(uids).count == records.count, "two records share a metadata.uid")
    }

    @Test("a credential event's records, by class, activity and status", arguments: [
        ("credential.issued (postgres)", [Expected(3005, 1), Expected(3001, 1)]),
        ("credential.issued (token)", [Expected(3005, 1)]),
        ("credential.revoked (postgres)", [Expected(3005, 2), Expected(3001, 6)]),
        ("credential.revoked (token)", [Expected(3005, 2)]),
        ("credential.revocation_failed", [Expected(3005, 2, status: 2), Expected(3001, 6, status: 2)]),
        ("lease.expired", [Expected(3004, 11)]),
        ("access.requested", [Expected(3004, 1)]),
    ] as [(String, [Expected])])
    func recordsByEvent(_ name: String, _ expected: [Expected]) throws {
        let sample = try OCSFRecordTests.sample(name)
        let records = try Self.records(sample.event)
        #expect(records.map(Expected.init) == expected)
    }

    @Test("an issued PostgreSQL credential creates the login: user is the login, on the resource, for the principal")
    func issuedPostgres() throws {
        let records = try Self.records(OCSFRecordTests.sample("credential.issued (postgres)").event)
        try #require(records.count == 2)
        let grant = records[0], account = records[1]
        #expect(grant["class_uid"] == 3005)
        #expect(account["class_name"] == "Account Change")
        #expect(account["category_name"] == "Identity & Access Management")
        #expect(account["activity_name"] == "Create")
        #expect(account["type_uid"] == 300_101)
        #expect(account["type_name"] == "Account Change: Create")
        #expect(account["status"] == "Success")
        #expect(account["user"] == [
            "name": "alk_alice_orders_db_k3v9q", "type": "User", "type_id": 1, "domain": "orders-db",
            "account": ["name": "alk_alice_orders_db_k3v9q", "type": "PostgreSQL Role", "type_id": 99],
        ])
        #expect(account["actor"] == [
            "user": ["uid": "alice", "name": "alice"], "app_name": "Airlock", "app_uid": "urn:airlock",
        ])
        #expect(account["message"]
            == "postgresql login created: login alk_alice_orders_db_k3v9q, resource orders-db, principal alice")
        let id = try #require(grant["metadata"]?["uid"]?.stringValue)
        #expect(account["metadata"]?["uid"] == .string(id + ":3001"))
        #expect(account["metadata"]?["correlation_uid"] == grant["metadata"]?["correlation_uid"])
        #expect(account["metadata"]?["sequence"] == 42)
        #expect(account["severity_id"] == grant["severity_id"] && account["time"] == grant["time"])
    }

    @Test("a token credential creates no account: one record, User Access Management")
    func tokenOnly() throws {
        for name in ["credential.issued (token)", "credential.revoked (token)"] {
            let records = try Self.records(OCSFRecordTests.sample(name).event)
            #expect(records.map { $0["class_uid"] } == [3005], "\(name)")
        }
    }

    @Test("revocation drops the login (by the broker at expiry, by the admin who revoked); a failed drop is Failure")
    func dropped() throws {
        let expired = try Self.records(OCSFRecordTests.sample("credential.revoked (postgres)").event)
        #expect(expired.last?["activity_name"] == "Delete")
        #expect(expired.last?["actor"] == ["app_name": "Airlock", "app_uid": "urn:airlock"])
        #expect(expired.last?["message"]?.stringValue?.hasPrefix("postgresql login dropped: login alk_") == true)

        var data = AuditEventSample.leaseFacts(postgres: true)
        data["reason"] = "revoked"
        data["actor"] = "carol"
        let byAdmin = try Self.records(AuditEventSample.stored(NewAuditEvent(
            type: "airlock.credential.revoked", subject: AuditEventSample.leaseID, data: data)))
        #expect(byAdmin.last?["actor"] == ["user": ["uid": "carol", "name": "carol"]])

        let failed = try Self.records(OCSFRecordTests.sample("credential.revocation_failed").event)
        #expect(failed.last?["status"] == "Failure")
        #expect(failed.last?["status_detail"] == "connection refused by orders.example.internal:5432")
        #expect(failed.last?["message"]?.stringValue?.hasPrefix("postgresql login drop failed:") == true)
    }

    @Test("a failed issuance gives no Account Change, even naming the login it left (its revocation drops it)")
    func issuanceFailed() throws {
        var data = AuditEventSample.leaseFacts(postgres: true)
        data["error"] = "target refused"
        let records = try Self.records(AuditEventSample.stored(NewAuditEvent(
            type: "airlock.credential.issuance_failed", subject: AuditEventSample.leaseID, severity: .high, data: data)))
        #expect(records.map { $0["class_uid"] } == [3005])
    }

    @Test("the validator holds Account Change to its definition: user required, activity 4 is no Delete")
    func validatorKnowsAccountChange() throws {
        let validator = try OCSFSchemaValidator()
        let records = try Self.records(OCSFRecordTests.sample("credential.revoked (postgres)").event)
        let account = try #require(records.last?.objectValue)
        var changed = account
        changed["user"] = nil
        #expect(validator.problems(in: .object(changed)) == ["user is required by account_change"])
        changed = account
        changed["activity_id"] = 4
        changed["type_uid"] = 300_104
        #expect(validator.problems(in: .object(changed)) == ["`activity_name` `Delete` is not the caption",
                                                             "`type_name` `Account Change: Delete` is not `Account Change: Password Reset`"])
        changed = account
        changed["privileges"] = ["readonly"]  // User Access Management's, not Account Change's
        #expect(validator.problems(in: .object(changed)) == ["privileges is not an attribute of account_change"])
    }
}

/// A record's class, activity and status, for comparison.
struct Expected: Equatable, Sendable, CustomTestStringConvertible {
    let classUID: Int64
    let activityID: Int64
    let statusID: Int64

    init(_ classUID: Int64, _ activityID: Int64, status: Int64 = 1) {
        self.classUID = classUID
        self.activityID = activityID
        self.statusID = status
    }

    init(_ record: JSONValue) {
        self.init(record["class_uid"]?.intValue ?? -1, record["activity_id"]?.intValue ?? -1,
                  status: record["status_id"]?.intValue ?? -1)
    }

    var testDescription: String { "\(classUID)/\(activityID)/\(statusID)" }
}
