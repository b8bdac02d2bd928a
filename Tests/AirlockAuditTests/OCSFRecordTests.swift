import AirlockAudit
import AirlockCore
import Foundation
import Testing

/// Airlock audit events as OCSF 1.8.0 records: one sample per mapping row, each checked against the vendored class
/// definitions, plus what every record carries and what it must never carry.
struct OCSFRecordTests {
    static let productVersion = "0.9.0"

    static func record(_ event: JSONValue) throws -> JSONValue {
        try OCSFRecord.record(for: event, productVersion: productVersion)
    }

    static func sample(_ name: String) throws -> AuditEventSample {
        try #require(AuditEventSample.all.first { $0.name == name }, "no sample `\(name)`")
    }

    @Test("each mapping row gives a record its OCSF 1.8.0 class accepts", arguments: AuditEventSample.all)
    func conformsToItsClass(_ sample: AuditEventSample) throws {
        let validator = try OCSFSchemaValidator()
        let record = try Self.record(sample.event)
        #expect(validator.problems(in: record) == [])
        #expect(record["class_uid"] == .int(sample.classUID))
        #expect(record["category_uid"] == .int(sample.classUID / 1000))
        #expect(record["activity_id"] == .int(sample.activityID))
        #expect(record["type_uid"] == .int(sample.classUID * 100 + sample.activityID))
        #expect(record["status_id"] == .int(sample.statusID))
    }

    @Test("every record carries the time, severity, metadata and the whole CloudEvent", arguments: AuditEventSample.all)
    func commonAttributes(_ sample: AuditEventSample) throws {
        let record = try Self.record(sample.event)
        let severity = try #require(sample.event["data"]?["severity"]?.stringValue.flatMap(Severity.init(rawValue:)))
        #expect(record["severity_id"] == .int(Int64((Severity.allCases.firstIndex(of: severity) ?? -1) + 1)))
        #expect(record["time"] == .int(AuditEventSample.timeMilliseconds))
        #expect(record["message"]?.stringValue?.isEmpty == false)
        let metadata = try #require(record["metadata"])
        #expect(metadata["version"] == "1.8.0")
        #expect(metadata["product"] == ["name": "Airlock", "vendor_name": "Airlock", "version": "0.9.0"])
        #expect(metadata["uid"] == sample.event["id"])
        #expect(metadata["event_code"] == sample.event["type"])
        #expect(metadata["original_time"] == "2026-11-29T13:26:10.123Z")
        #expect(metadata["sequence"] == 42)
        #expect(metadata["correlation_uid"] == sample.event["data"]?["request_id"])
        // Nothing lost: the CloudEvent as stored, data and chain attributes included, so its hash can be recomputed.
        let unmapped = try #require(record["unmapped"])
        #expect(unmapped == sample.event)
        #expect(unmapped["data"] == sample.event["data"])
        #expect(unmapped["sequence"] == 42 && unmapped["hash"]?.stringValue?.count == 64)
        guard case .object(var hashed) = unmapped else { return }
        for key in ["sequence", "prevhash", "hash"] { hashed.removeValue(forKey: key) }
        let prevhash = try #require(unmapped["prevhash"]?.stringValue)
        let rehashed = AuditChain.hash(prevhash: prevhash, event: JSONValue.object(hashed).canonicalString())
        #expect(rehashed == unmapped["hash"]?.stringValue)
    }

    @Test("no attribute named password, token or secret appears in any record", arguments: AuditEventSample.all)
    func noSecretNamedAttribute(_ sample: AuditEventSample) throws {
        var keys: [String] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    keys.append(key.lowercased())
                    collect(member)
                }
            case .array(let elements):
                elements.forEach(collect)
            default:
                break
            }
        }
        for record in try OCSFRecord.records(for: sample.event, productVersion: Self.productVersion) { collect(record) }
        let forbidden = keys.filter {
            ["password", "token", "secret"].contains($0) || $0.contains("password") || $0.contains("secret")
        }
        #expect(forbidden == [])
    }

    @Test("severity info, low, medium, high and critical are severity_id 1 to 5", arguments: Severity.allCases)
    func severityIDs(_ severity: Severity) throws {
        let event = AuditEventSample.stored(NewAuditEvent(
            type: "airlock.policy.activated", subject: AuditEventSample.policySetID, severity: severity,
            data: ["policy_set_id": .string(AuditEventSample.policySetID)]))
        let expected: Int64 = switch severity {
        case .info: 1
        case .low: 2
        case .medium: 3
        case .high: 4
        case .critical: 5
        }
        let record = try Self.record(event)
        #expect(record["severity_id"] == .int(expected))
        #expect(try OCSFSchemaValidator().problems(in: record) == [])
    }

    @Test("a credential names the principal as user, its PostgreSQL login as the account and its role as privilege")
    func credentialUser() throws {
        let postgres = try Self.record(Self.sample("credential.issued (postgres)").event)
        #expect(postgres["user"] == [
            "uid": "alice", "name": "alice",
            "account": ["name": "alk_alice_orders_db_k3v9q", "type": "PostgreSQL Role", "type_id": 99],
        ])
        #expect(postgres["privileges"] == ["readonly"])
        #expect(postgres["resources"] == [["uid": "orders-db", "name": "orders-db"]])
        #expect(postgres["actor"] == ["app_name": "Airlock", "app_uid": "urn:airlock"])
        #expect(postgres["activity_name"] == "Assign Privileges")

        let token = try Self.record(Self.sample("credential.revoked (token)").event)
        #expect(token["user"] == ["uid": "alice", "name": "alice"])
        #expect(token["privileges"] == ["read"])
        #expect(token["activity_name"] == "Revoke Privileges")
        #expect(token["unmapped"]?["data"]?["token_id"] == .string(AuditEventSample.tokenID))

        let failed = try Self.record(Self.sample("credential.revocation_failed").event)
        #expect(failed["status"] == "Failure")
        #expect(failed["status_detail"] == "connection refused by orders.example.internal:5432")
    }

    @Test("the actor is who acted: the requester, the reviewer, the admin, or the broker itself")
    func actors() throws {
        let requested = try Self.record(Self.sample("access.requested").event)
        #expect(requested["actor"] == ["user": ["uid": "alice", "name": "alice"]])
        #expect(requested["entity"]?["uid"] == .string(AuditEventSample.requestID))
        #expect(requested["entity"]?["type"] == "Access Request")
        #expect(requested["entity"]?["data"]?["principal"] == "alice")

        let approved = try Self.record(Self.sample("access.approved").event)
        #expect(approved["actor"] == ["user": ["uid": "bob", "name": "bob"]])

        let revoked = try Self.record(Self.sample("access.revoked").event)
        #expect(revoked["actor"] == ["user": ["uid": "carol", "name": "carol"]])
        #expect(revoked["comment"] == "incident closed")
        #expect(revoked["activity_name"] == "Deactivate")

        let lease = try Self.record(Self.sample("lease.expired").event)
        #expect(lease["entity"]?["type"] == "Lease")
        #expect(lease["entity"]?["uid"] == .string(AuditEventSample.leaseID))
        #expect(lease["actor"] == ["app_name": "Airlock", "app_uid": "urn:airlock"])

        let token = try Self.record(Self.sample("token.created").event)
        #expect(token["actor"] == ["user": ["uid": "admin", "name": "admin"]])
        #expect(token["api"] == ["operation": "airlock.token.created"])
        #expect(token["resources"]
            == [["uid": .string(AuditEventSample.tokenID), "type": "token", "name": "ci-deployer"]])

        let policy = try Self.record(Self.sample("policy.loaded").event)
        #expect(policy["actor"] == ["app_name": "Airlock", "app_uid": "urn:airlock"])
        #expect(policy["src_endpoint"] == ["svc_name": "airlock", "uid": "urn:airlock"])

        let login = try Self.record(Self.sample("login.failed").event)
        #expect(login["user"] == ["uid": "mallory", "name": "mallory"])
        #expect(login["src_endpoint"] == ["ip": "203.0.113.7"])
        #expect(login["dst_endpoint"] == ["svc_name": "airlock", "uid": "urn:airlock"])
        #expect(try Self.record(Self.sample("auth.login").event)["is_mfa"] == true)
    }

    @Test("break-glass, anomalies and signals are Detection Findings naming the principal as evidence")
    func findings() throws {
        let breakGlass = try Self.record(Self.sample("break-glass access.requested").event)
        let info = try #require(breakGlass["finding_info"])
        #expect(info["uid"] == breakGlass["metadata"]?["uid"])
        #expect(info["types"] == ["Break Glass"])
        #expect(info["title"]?.stringValue?.hasPrefix("break-glass access requested: principal alice") == true)
        #expect(breakGlass["is_alert"] == true)
        #expect(breakGlass["status"] == "New")
        #expect(breakGlass["evidences"] == [["actor": ["user": ["uid": "alice", "name": "alice"]]]])
        #expect(breakGlass["resources"] == [["uid": "orders-db", "name": "orders-db"]])
        #expect(breakGlass["severity_id"] == 5)

        let anomaly = try Self.record(Self.sample("anomaly.detected").event)
        #expect(anomaly["finding_info"]?["title"] == "alice requested orders-db at an unusual hour")
        #expect(anomaly["finding_info"]?["types"] == ["Anomaly"])

        let signal = try Self.record(Self.sample("signal.received").event)
        #expect(signal["finding_info"]?["types"] == ["Risk Signal"])
        #expect(signal["is_alert"] == false)  // severity low
    }

    @Test("a credential event without a principal or role is not given invented ones: it falls to API Activity")
    func credentialWithoutRequiredFacts() throws {
        let event = AuditEventSample.stored(NewAuditEvent(
            type: "airlock.credential.issued", subject: AuditEventSample.leaseID,
            data: ["lease_id": .string(AuditEventSample.leaseID), "resource": "orders-db"]))
        let record = try Self.record(event)
        #expect(record["class_uid"] == 6003)
        #expect(record["user"] == nil && record["privileges"] == nil)
        #expect(try OCSFSchemaValidator().problems(in: record) == [])
    }

    @Test("an event not yet chained has no sequence; a time without fractional seconds is whole milliseconds")
    func unchained() throws {
        guard case .object(var members) = AuditEventSample.stored(NewAuditEvent(
            type: "airlock.policy.loaded", subject: AuditEventSample.policySetID,
            data: ["policy_set_id": .string(AuditEventSample.policySetID)]), chained: false) else {
            Issue.record("the sample is not an object")
            return
        }
        members["time"] = "2026-11-29T13:26:10Z"
        let record = try Self.record(.object(members))
        #expect(record["metadata"]?["sequence"] == nil)
        #expect(record["unmapped"]?["hash"] == nil)
        #expect(record["time"] == 1_795_958_770_000)
        #expect(try OCSFSchemaValidator().problems(in: record) == [])
    }

    @Test("a malformed event is refused with invalid_event", arguments: [
        ("not an object", JSONValue.array([])),
        ("no id", ["specversion": "1.0", "source": "urn:airlock", "type": "airlock.policy.loaded",
                   "time": "2026-11-29T13:26:10.123Z", "data": ["severity": "info"]]),
        ("a time that is not RFC 3339", ["specversion": "1.0", "id": "e1", "source": "urn:airlock",
                                         "type": "airlock.policy.loaded", "time": "yesterday",
                                         "data": ["severity": "info"]]),
        ("a severity Airlock does not write", ["specversion": "1.0", "id": "e1", "source": "urn:airlock",
                                               "type": "airlock.policy.loaded", "time": "2026-11-29T13:26:10.123Z",
                                               "data": ["severity": "urgent"]]),
        ("no data", ["specversion": "1.0", "id": "e1", "source": "urn:airlock", "type": "airlock.policy.loaded",
                     "time": "2026-11-29T13:26:10.123Z"]),
        ("a sequence that is not an integer", ["specversion": "1.0", "id": "e1", "source": "urn:airlock",
                                               "type": "airlock.policy.loaded", "time": "2026-11-29T13:26:10.123Z",
                                               "data": ["severity": "info"], "sequence": "42"]),
    ] as [(String, JSONValue)])
    func malformed(_ reason: String, _ event: JSONValue) {
        do {
            _ = try Self.record(event)
            Issue.record("an event with \(reason) was accepted")
        } catch let error as AuditError {
            #expect(error.code == "invalid_event", "\(reason)")
        } catch {
            Issue.record("an event with \(reason) threw \(error)")
        }
    }

    @Test("the validator reports what a record lacks or gets wrong (it is not vacuous)")
    func validatorCatchesMistakes() throws {
        let validator = try OCSFSchemaValidator()
        let good = try Self.record(Self.sample("credential.issued (postgres)").event)
        guard case .object(let members) = good else {
            Issue.record("the record is not an object")
            return
        }
        func problems(_ change: (inout [String: JSONValue]) -> Void) -> [String] {
            var changed = members
            change(&changed)
            return validator.problems(in: .object(changed))
        }
        #expect(problems { $0["user"] = nil } == ["user is required by user_access"])
        #expect(problems { $0["privileges"] = [] } == ["privileges is required by user_access"])
        #expect(problems { $0["type_uid"] = 300_599 } == ["`type_uid` is not `class_uid` × 100 + `activity_id`"])
        #expect(problems { $0["category_uid"] = 6 }.count == 2)
        #expect(problems {
            $0["activity_id"] = 7
            $0["type_uid"] = 300_507
            $0["activity_name"] = nil
            $0["type_name"] = nil
        } == ["`activity_id` 7 is not in user_access's enum"])
        #expect(problems { $0["password"] = "hunter2" } == ["password is not an attribute of user_access"])
        #expect(problems { $0["metadata"]?.removeMember("product") } == ["metadata.product is required by metadata"])
        #expect(problems { $0["user"] = ["email_addr": "alice@example.com"] }
            == ["user needs one of [\"account\", \"name\", \"uid\"]"])
        #expect(problems { $0["time"] = "2026-11-29T13:26:10.123Z" } == ["`time` is not an integer"])

        let finding = try Self.record(Self.sample("anomaly.detected").event)
        var broken = finding.objectValue ?? [:]
        broken["finding_info"]?.removeMember("uid")
        #expect(validator.problems(in: .object(broken)) == ["finding_info.uid is required by finding_info"])
        broken = finding.objectValue ?? [:]
        broken["actor"] = ["user": ["uid": "alice"]]  // Detection Finding has no actor
        #expect(validator.problems(in: .object(broken)) == ["actor is not an attribute of detection_finding"])
        let api = try Self.record(Self.sample("token.created").event)
        broken = api.objectValue ?? [:]
        broken["api"] = ["version": "1"]
        #expect(validator.problems(in: .object(broken)) == ["api.operation is required by api"])
    }
}

extension JSONValue {
    /// Removes `key` when this is an object (test convenience).
    fileprivate mutating func removeMember(_ key: String) {
        guard case .object(var members) = self else { return }
        members.removeValue(forKey: key)
        self = .object(members)
    }
}
