/// Reading and writing duration literals: units `d h m s`, in that order, each at most once (`1h30m`).
public enum DurationText {
    /// Why a duration literal is invalid.
    public enum Problem: Error, Sendable, Hashable {
        /// Units out of order, repeated, unknown, or a number without a unit.
        case malformed
        /// The value does not fit a 64-bit count of seconds.
        case outOfRange
    }

    private static let units: [(Unicode.Scalar, Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]

    /// Parses a duration literal such as `15m` or `1d2h`, returning seconds.
    public static func parse(_ text: String) -> Result<Int64, Problem> {
        var total: Int64 = 0
        var digits = ""
        var nextUnit = 0
        var sawUnit = false
        for scalar in text.unicodeScalars {
            if ("0"..."9").contains(scalar) {
                digits.unicodeScalars.append(scalar)
                continue
            }
            guard !digits.isEmpty,
                let unitIndex = units.firstIndex(where: { $0.0 == scalar }),
                unitIndex >= nextUnit
            else { return .failure(.malformed) }
            guard let amount = Int64(digits) else { return .failure(.outOfRange) }
            let (scaled, overflow) = amount.multipliedReportingOverflow(by: units[unitIndex].1)
            let (sum, sumOverflow) = total.addingReportingOverflow(scaled)
            guard !overflow, !sumOverflow else { return .failure(.outOfRange) }
            total = sum
            digits = ""
            nextUnit = unitIndex + 1
            sawUnit = true
        }
        guard sawUnit, digits.isEmpty else { return .failure(.malformed) }
        return .success(total)
    }

    /// Formats seconds in the canonical form: `0s`, `90` → `1m30s`, `3600` → `1h`; negative values get a `-`.
    public static func format(_ seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        var remaining = seconds.magnitude
        var result = seconds < 0 ? "-" : ""
        for (unit, size) in units {
            let amount = remaining / UInt64(size)
            if amount > 0 {
                result += "\(amount)\(Character(unit))"
                remaining -= amount * UInt64(size)
            }
        }
        return result
    }
}
