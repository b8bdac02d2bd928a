import Foundation

/// The hour of the week of an instant in a time zone: 0 (Monday 00:00) to 167 (Sunday 23:00).
public enum HourOfWeek {
    public static func of(_ date: Date, in timeZone: TimeZone) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour], from: date)
        // Calendar weekdays: 1 is Sunday … 7 is Saturday.
        let mondayFirst = ((parts.weekday ?? 2) + 5) % 7
        return mondayFirst * 24 + (parts.hour ?? 0)
    }

    static let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// "Tuesday 03:00".
    public static func describe(_ hour: Int) -> String {
        let day = dayNames[(hour / 24) % 7]
        return "\(day) \(twoDigits(hour % 24)):00"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
