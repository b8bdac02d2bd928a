import Foundation

/// The hour of the week of an instant in a time zone: 0 (Monday 00:00) to 167 (Sunday 23:00).
public enum HourOfWeek {
    public static func of(_ date: Date, in timeZone: TimeZone) -> Int {
        // Local time as seconds since 1970-01-01 00:00 (a Thursday), from the zone's offset at that instant: the same
        // hour and weekday a calendar gives, without building one for every score.
        let local = Int64((date.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: date))).rounded(.down))
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = local - days * 86_400
        let mondayFirst = ((days + 3) % 7 + 7) % 7
        return Int(mondayFirst * 24 + secondOfDay / 3600)
    }

    static let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// "Tuesday 03:00".
    public static func describe(_ hour: Int) -> String {
        let day = dayNames[(hour / 24) % 7]
        return "\(day) \(twoDigits(hour % 24)):00"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
