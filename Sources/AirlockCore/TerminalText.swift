import Foundation

/// Text from the broker (reasons, tickets, comments, principal ids, error messages) made safe to show on a
/// terminal: a requester must not be able to draw a fake request line, a fake "needs: nothing", or reorder what an
/// approver reads. Every control character (C0, DEL and C1 such as U+009B, the 8-bit CSI), every format character
/// (bidi overrides and isolates such as U+202E, zero-width characters), line and paragraph separators, private-use
/// and unassigned code points are shown as `\u{XXXX}` escapes; newline, carriage return and tab as `\n`, `\r`,
/// `\t`; and a backslash as `\\`, so an escape in the text cannot pass for one Airlock wrote.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default:
                if needsEscape(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .unassigned, .surrogate:
            true
        default:
            false
        }
    }
}

