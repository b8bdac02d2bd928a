extension EvaluationInput {
    /// Decodes one `airlock policy eval` input line:
    /// `{"principal": {...}, "resource": {...}, "request": {...}, "risk": {...}}`.
    ///
    /// IPs are strings, durations non-negative integer seconds, sets arrays of strings. `null` counts as
    /// absent, a missing entity as `{}`, and keys the schema does not know are ignored. A line that is
    /// not a JSON object, or an attribute of the wrong JSON type, is an ``InputError``.
    public static func decode(jsonLine: String, schema: Schema) throws(InputError) -> EvaluationInput {
        let document: JSONInput
        do {
            document = try JSONReader.parse(jsonLine)
        } catch {
            throw InputError(message: error.message)
        }
        return try decode(document: document, schema: schema)
    }

    /// Decodes an input document that is already a value (the broker builds one per request): the same rules as
    /// ``decode(jsonLine:schema:)``, without writing or parsing any text.
    public static func decode(document: JSONInput, schema: Schema) throws(InputError) -> EvaluationInput {
        guard case .object(let members) = document else {
            throw InputError(message: "expected a json object, got \(document.kindDescription)")
        }
        var input = EvaluationInput()
        for (key, entity) in members {
            guard let root = EntityRoot(rawValue: key) else { continue }
            switch entity {
            case .null:
                continue
            case .object(let attributes):
                for (name, json) in attributes {
                    let path = AttributePath(root, name)
                    guard let type = schema[path] else { continue }
                    if let value = try decodeValue(json, as: type.valueType, path: path) {
                        input[path] = value
                    }
                }
            default:
                throw InputError(message: "`\(key)` must be an object, got \(entity.kindDescription)")
            }
        }
        return input
    }

    private static func decodeValue(_ json: JSONInput, as type: ValueType, path: AttributePath) throws(InputError) -> Value? {
        func mismatch(_ expected: String) -> InputError {
            InputError(message: "`\(path)` must be \(expected), got \(json.kindDescription)")
        }
        if json == .null { return nil }
        switch type {
        case .string:
            guard case .string(let text) = json else { throw mismatch("a string") }
            return .string(text)
        case .int:
            guard case .integer(let value) = json else { throw mismatch("an integer") }
            return .int(value)
        case .bool:
            guard case .bool(let value) = json else { throw mismatch("a boolean") }
            return .bool(value)
        case .duration:
            guard case .integer(let seconds) = json else { throw mismatch("a whole number of seconds") }
            guard seconds >= 0 else { throw InputError(message: "`\(path)` must not be negative, got \(seconds)") }
            return .duration(seconds)
        case .ip:
            guard case .string(let text) = json else { throw mismatch("an ip address string") }
            guard let address = IPAddress(text) else {
                throw InputError(message: "`\(path)` is not a valid ip address: `\(text)`")
            }
            return .ip(address)
        case .stringSet:
            guard case .array(let elements) = json else { throw mismatch("an array of strings") }
            var set: Set<String> = []
            for element in elements {
                guard case .string(let text) = element else {
                    throw InputError(message: "`\(path)` must be an array of strings, but it holds \(element.kindDescription)")
                }
                set.insert(text)
            }
            return .set(set)
        }
    }
}
