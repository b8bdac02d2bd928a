import AirlockCore
import Foundation

/// Checks an OCSF record against the trimmed OCSF 1.8.0 definitions vendored under `OCSF/` (see its README).
///
/// A record passes when its class is one of the vendored classes and
/// - `category_uid`, `class_uid` and `type_uid` agree with the class (category uid × 1000 + class uid, × 100 +
///   activity), `activity_id` is in the class's enum (merged along `extends`, so the base event's 0 and 99 count) and
///   `activity_name`, `class_name`, `category_name` and `type_name`, when present, are the captions;
/// - every attribute the class or an ancestor marks `required` is present (non-empty for arrays and strings), and
///   every `at_least_one` constraint holds;
/// - no attribute is unknown to the class and its ancestors;
/// - the same holds for every nested object the dictionary types as a vendored object (`metadata`, `user`, ...).
struct OCSFSchemaValidator {
    /// One class or object definition, with what it inherits already merged in.
    struct Definition {
        let name: String
        let caption: String?
        /// `class_uid` for event classes (category uid × 1000 + uid), nil for objects and abstract classes.
        let classUID: Int?
        let categoryUID: Int?
        let categoryCaption: String?
        /// Attribute name → requirement (`required`, `recommended`, `optional`, `reserved`).
        let attributes: [String: String]
        /// `activity_id` → caption.
        let activities: [Int: String]
        /// The nearest definition's `at_least_one`.
        let atLeastOne: [String]
    }

    private(set) var classes: [Int: Definition] = [:]
    private(set) var objects: [String: Definition] = [:]
    /// Dictionary attribute name → (object or scalar type, is array), for attributes whose value is not a scalar.
    private(set) var dictionary: [String: (type: String, isArray: Bool)] = [:]

    /// Loads the definitions from the test bundle.
    init() throws {
        guard let root = Bundle.module.url(forResource: "OCSF", withExtension: nil) else {
            throw ValidatorError("the OCSF test resources are missing from the bundle")
        }
        func load(_ path: String) throws -> [String: JSONValue] {
            let value = try JSONValue.parse(Data(contentsOf: root.appendingPathComponent(path)))
            guard case .object(let members) = value else { throw ValidatorError("\(path) is not an object") }
            return members
        }
        var categories: [String: (uid: Int, caption: String)] = [:]
        for (name, category) in try load("categories.json")["attributes"]?.objectValue ?? [:] {
            if let uid = category["uid"]?.intValue, let caption = category["caption"]?.stringValue {
                categories[name] = (Int(uid), caption)
            }
        }
        for (name, entry) in try load("dictionary.json")["attributes"]?.objectValue ?? [:] {
            dictionary[name] = (entry["type"]?.stringValue ?? "", entry["is_array"]?.boolValue ?? false)
        }
        let eventFiles = [
            "events/base_event.json", "events/iam/iam.json", "events/iam/account_change.json",
            "events/iam/user_access.json", "events/iam/authentication.json", "events/iam/entity_management.json",
            "events/application/application.json", "events/application/api_activity.json",
            "events/findings/finding.json", "events/findings/detection_finding.json",
        ]
        let objectFiles = [
            "_entity", "_resource", "account", "actor", "api", "endpoint", "evidences", "finding_info",
            "managed_entity", "metadata", "network_endpoint", "product", "resource_details", "user",
        ].map { "objects/\($0).json" }
        var raw: [String: [String: JSONValue]] = [:]
        for file in eventFiles + objectFiles {
            let definition = try load(file)
            guard let name = definition["name"]?.stringValue else { throw ValidatorError("\(file) has no name") }
            raw[name] = definition
        }
        for file in eventFiles {
            let name = try load(file)["name"]?.stringValue ?? ""
            let definition = try Self.resolve(name, raw: raw, categories: categories)
            if let uid = definition.classUID { classes[uid] = definition }
        }
        for file in objectFiles {
            let name = try load(file)["name"]?.stringValue ?? ""
            objects[name] = try Self.resolve(name, raw: raw, categories: categories)
        }
    }

    /// Merges `name` with its ancestors along `extends` (the child's entries win; `object` ends the chain).
    private static func resolve(
        _ name: String, raw: [String: [String: JSONValue]], categories: [String: (uid: Int, caption: String)]
    ) throws -> Definition {
        var chain: [[String: JSONValue]] = []
        var next: String? = name
        while let current = next, current != "object" {
            guard let definition = raw[current] else { throw ValidatorError("`\(current)` is not vendored") }
            chain.insert(definition, at: 0)
            next = definition["extends"]?.stringValue
        }
        var attributes: [String: String] = [:]
        var activities: [Int: String] = [:]
        var atLeastOne: [String] = []
        var category: String?
        for definition in chain {
            if let declared = definition["category"]?.stringValue { category = declared }
            for (attribute, fields) in definition["attributes"]?.objectValue ?? [:] {
                if let requirement = fields["requirement"]?.stringValue {
                    attributes[attribute] = requirement
                } else if attributes[attribute] == nil {
                    attributes[attribute] = "optional"
                }
                if attribute == "activity_id" {
                    for (id, entry) in fields["enum"]?.objectValue ?? [:] {
                        if let id = Int(id) { activities[id] = entry["caption"]?.stringValue ?? "" }
                    }
                }
            }
            if let constraint = definition["constraints"]?["at_least_one"]?.arrayValue {
                atLeastOne = constraint.compactMap(\.stringValue)
            }
        }
        let leaf = chain.last ?? [:]
        let categoryEntry = category.flatMap { categories[$0] }
        let classUID = leaf["uid"]?.intValue.flatMap { uid in categoryEntry.map { $0.uid * 1000 + Int(uid) } }
        return Definition(
            name: name, caption: leaf["caption"]?.stringValue, classUID: classUID, categoryUID: categoryEntry?.uid,
            categoryCaption: categoryEntry?.caption, attributes: attributes, activities: activities,
            atLeastOne: atLeastOne)
    }

    /// Every way `record` departs from its class, as lines naming the attribute path; empty when it conforms.
    func problems(in record: JSONValue) -> [String] {
        guard case .object(let members) = record else { return ["the record is not an object"] }
        guard let classUID = members["class_uid"]?.intValue.map(Int.init) else { return ["`class_uid` is missing"] }
        guard let definition = classes[classUID] else { return ["`class_uid` \(classUID) is not a vendored class"] }
        var problems: [String] = []
        func expect(_ condition: Bool, _ problem: @autoclosure () -> String) {
            if !condition { problems.append(problem()) }
        }
        let categoryUID = members["category_uid"]?.intValue.map(Int.init)
        let activityID = members["activity_id"]?.intValue.map(Int.init)
        let typeUID = members["type_uid"]?.intValue.map(Int.init)
        expect(categoryUID == definition.categoryUID, "`category_uid` is not \(definition.categoryUID ?? -1)")
        expect(categoryUID == classUID / 1000, "`category_uid` is not `class_uid` / 1000")
        if let activityID {
            expect(definition.activities[activityID] != nil,
                   "`activity_id` \(activityID) is not in \(definition.name)'s enum")
            expect(typeUID == classUID * 100 + activityID, "`type_uid` is not `class_uid` × 100 + `activity_id`")
            if let name = members["activity_name"]?.stringValue {
                expect(name == definition.activities[activityID], "`activity_name` `\(name)` is not the caption")
            }
            if let name = members["type_name"]?.stringValue {
                let expected = "\(definition.caption ?? ""): \(definition.activities[activityID] ?? "")"
                expect(name == expected, "`type_name` `\(name)` is not `\(expected)`")
            }
        }
        if let name = members["class_name"]?.stringValue {
            expect(name == definition.caption, "`class_name` `\(name)` is not the caption")
        }
        if let name = members["category_name"]?.stringValue {
            expect(name == definition.categoryCaption, "`category_name` `\(name)` is not the caption")
        }
        for key in ["class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"] {
            expect(members[key]?.intValue != nil, "`\(key)` is not an integer")
        }
        if let severity = members["severity_id"]?.intValue {
            expect([0, 1, 2, 3, 4, 5, 6, 99].contains(severity), "`severity_id` \(severity) is not in its enum")
        }
        problems += check(members, against: definition, at: "")
        return problems
    }

    /// The required, at-least-one and unknown-attribute checks of `members` against `definition`, then of every
    /// nested value the dictionary types as a vendored object.
    private func check(_ members: [String: JSONValue], against definition: Definition, at path: String) -> [String] {
        var problems: [String] = []
        for (attribute, requirement) in definition.attributes.sorted(by: { $0.key < $1.key })
        where requirement == "required" && !Self.isPresent(members[attribute]) {
            problems.append("\(path)\(attribute) is required by \(definition.name)")
        }
        if !definition.atLeastOne.isEmpty, !definition.atLeastOne.contains(where: { Self.isPresent(members[$0]) }) {
            let subject = path.isEmpty ? "the record" : String(path.dropLast())
            problems.append("\(subject) needs one of \(definition.atLeastOne)")
        }
        for (attribute, value) in members.sorted(by: { $0.key < $1.key }) {
            guard definition.attributes[attribute] != nil else {
                problems.append("\(path)\(attribute) is not an attribute of \(definition.name)")
                continue
            }
            guard let entry = dictionary[attribute] else { continue }
            let type = entry.type, isArray = entry.isArray
            let elements: [JSONValue]
            if isArray {
                guard case .array(let array) = value else {
                    problems.append("\(path)\(attribute) is not an array")
                    continue
                }
                elements = array
            } else {
                elements = [value]
            }
            for (index, element) in elements.enumerated() {
                let elementPath = "\(path)\(attribute)\(isArray ? "[\(index)]" : "")"
                if type == "string_t" {
                    if element.stringValue == nil { problems.append("\(elementPath) is not a string") }
                } else if let object = objects[type] {
                    guard case .object(let nested) = element else {
                        problems.append("\(elementPath) is not an object")
                        continue
                    }
                    problems += check(nested, against: object, at: elementPath + ".")
                }
            }
        }
        return problems
    }

    /// Present: not missing, not null, and not an empty string or array.
    private static func isPresent(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: false
        case .string(let text)?: !text.isEmpty
        case .array(let elements)?: !elements.isEmpty
        default: true
        }
    }
}

/// A vendored definition that cannot be read.
struct ValidatorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
