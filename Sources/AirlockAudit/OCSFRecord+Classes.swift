import AirlockCore

/// An OCSF 1.8.0 event class that Airlock emits: its `class_uid` (category uid × 1000 + class uid) and captions.
enum OCSFClass: Int, Sendable, CaseIterable {
    /// Findings / Detection Finding.
    case detectionFinding = 2004
    /// Identity & Access Management / Account Change.
    case accountChange = 3001
    /// Identity & Access Management / Authentication.
    case authentication = 3002
    /// Identity & Access Management / Entity Management.
    case entityManagement = 3004
    /// Identity & Access Management / User Access Management.
    case userAccessManagement = 3005
    /// Application Activity / API Activity.
    case apiActivity = 6003

    /// `category_uid`: `class_uid / 1000`.
    var categoryUID: Int { rawValue / 1000 }

    /// `class_name`, as OCSF captions the class.
    var caption: String {
        switch self {
        case .detectionFinding: "Detection Finding"
        case .accountChange: "Account Change"
        case .authentication: "Authentication"
        case .entityManagement: "Entity Management"
        case .userAccessManagement: "User Access Management"
        case .apiActivity: "API Activity"
        }
    }

    /// `category_name`, as OCSF captions the category.
    var categoryCaption: String {
        switch self {
        case .detectionFinding: "Findings"
        case .accountChange, .authentication, .entityManagement, .userAccessManagement: "Identity & Access Management"
        case .apiActivity: "Application Activity"
        }
    }
}

/// An `activity_id` of an OCSF class, with its caption (`activity_name`). Ids repeat across classes with different
/// captions (1 is Create, Assign Privileges or Logon), so each constant says which classes it belongs to.
struct OCSFActivity: Sendable, Equatable {
    /// `activity_id`.
    let id: Int
    /// `activity_name`.
    let caption: String

    /// User Access Management 1.
    static let assignPrivileges = OCSFActivity(id: 1, caption: "Assign Privileges")
    /// User Access Management 2.
    static let revokePrivileges = OCSFActivity(id: 2, caption: "Revoke Privileges")
    /// Authentication 1.
    static let logon = OCSFActivity(id: 1, caption: "Logon")
    /// Authentication 2.
    static let logoff = OCSFActivity(id: 2, caption: "Logoff")
    /// Account Change, Entity Management, API Activity and Detection Finding 1.
    static let create = OCSFActivity(id: 1, caption: "Create")
    /// API Activity 2.
    static let read = OCSFActivity(id: 2, caption: "Read")
    /// Entity Management and API Activity 3.
    static let update = OCSFActivity(id: 3, caption: "Update")
    /// API Activity 4.
    static let delete = OCSFActivity(id: 4, caption: "Delete")
    /// Entity Management 11.
    static let deactivate = OCSFActivity(id: 11, caption: "Deactivate")
    /// Account Change 6 (API Activity's Delete is 4).
    static let deleteAccount = OCSFActivity(id: 6, caption: "Delete")
}

/// Why an event became a Detection Finding: it decides the finding's `types` and whether it is an alert.
enum FindingKind: Sendable, Equatable {
    /// `data.break_glass == true`.
    case breakGlass
    /// `airlock.anomaly.detected`.
    case anomaly
    /// `airlock.signal.received`.
    case riskSignal
    /// An event no other row maps, at severity high or critical.
    case unmappedHighSeverity
}

/// Where one audit event lands in OCSF: class, activity, and whether what it reports failed.
struct OCSFClassification: Sendable, Equatable {
    /// `class_uid`.
    let eventClass: OCSFClass
    /// `activity_id`.
    let activity: OCSFActivity
    /// `status_id` Failure (2) rather than Success (1); not used by findings, whose status is the finding's.
    let failed: Bool
    /// Set for Detection Findings only.
    let finding: FindingKind?

    /// Applies the rows of ``OCSFRecord``'s table to `event`, first match wins.
    init(_ event: StoredAuditEvent) {
        let family = event.family, verb = event.verb
        let failedVerb = verb == "failed" || verb == "rejected" || verb.hasSuffix("_failed")
        if event.isBreakGlass {
            self.init(.detectionFinding, .create, finding: .breakGlass)
        } else if event.type == "airlock.anomaly.detected" {
            self.init(.detectionFinding, .create, finding: .anomaly)
        } else if event.type == "airlock.signal.received" {
            self.init(.detectionFinding, .create, finding: .riskSignal)
        } else if family == "credential", event.principal != nil, event.text("role") != nil,
                  let activity = Self.credentialActivity(verb) {
            self.init(.userAccessManagement, activity, failed: failedVerb)
        } else if family == "auth" || family == "login", event.principal != nil {
            let logoff = ["logout", "logoff", "signed_out"].contains(verb)
            self.init(.authentication, logoff ? .logoff : .logon, failed: failedVerb || verb == "denied")
        } else if family == "access" || family == "lease" {
            self.init(.entityManagement, Self.entityActivity(verb), failed: failedVerb)
        } else if ["policy", "webhook", "token", "keys", "resource"].contains(family) {
            self.init(.apiActivity, Self.apiActivity(verb), failed: failedVerb)
        } else if event.severity >= .high {
            self.init(.detectionFinding, .create, finding: .unmappedHighSeverity)
        } else {
            self.init(.apiActivity, Self.apiActivity(verb), failed: failedVerb)
        }
    }

    private init(_ eventClass: OCSFClass, _ activity: OCSFActivity, failed: Bool = false, finding: FindingKind? = nil) {
        self.eventClass = eventClass
        self.activity = activity
        self.failed = failed
        self.finding = finding
    }

    /// Issuing a credential assigns its role; revoking it (or failing to) revokes it. Other verbs: no row.
    private static func credentialActivity(_ verb: String) -> OCSFActivity? {
        switch verb {
        case "issued", "issuance_failed": .assignPrivileges
        case "revoked", "revocation_failed": .revokePrivileges
        default: nil
        }
    }

    /// A request or lease is created when asked for, deactivated when it ends, updated by anything else.
    private static func entityActivity(_ verb: String) -> OCSFActivity {
        switch verb {
        case "requested", "created": .create
        case "expired", "revoked", "ended", "closed", "cancelled", "canceled": .deactivate
        default: .update
        }
    }

    /// The CRUD verb of a configuration change, Update when the verb is none of the others.
    private static func apiActivity(_ verb: String) -> OCSFActivity {
        switch verb {
        case "created", "added", "loaded", "registered", "imported": .create
        case "read", "listed", "viewed", "exported": .read
        case "removed", "deleted", "revoked", "dropped": .delete
        default: .update
        }
    }
}

extension Severity {
    /// OCSF `severity_id`: info 1, low 2, medium 3, high 4, critical 5.
    var ocsfID: Int {
        switch self {
        case .info: 1
        case .low: 2
        case .medium: 3
        case .high: 4
        case .critical: 5
        }
    }

    /// OCSF `severity`, the caption of ``ocsfID``.
    var ocsfCaption: String {
        switch self {
        case .info: "Informational"
        case .low: "Low"
        case .medium: "Medium"
        case .high: "High"
        case .critical: "Critical"
        }
    }
}
