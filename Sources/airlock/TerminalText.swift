import AirlockCore

extension JSONValue {
    /// A string value made safe for a terminal (see ``TerminalText``); nil when this is not a string.
    var shown: String? { stringValue.map(TerminalText.escaped) }
}
