import Foundation

/// A Shared Signals stream (SSF 1.0 §8): a receiver's subscription to the Security Event Tokens Airlock transmits.
/// Never its authorization header, which is sealed in the database and only sent with each push.
public struct SharedSignalsStream: Sendable, Hashable {
    /// How the receiver gets its SETs.
    public enum Delivery: Sendable, Hashable {
        /// Pushed to the receiver's URL (`urn:ietf:rfc:8935`).
        case push(url: String)
        /// Polled by the receiver (`urn:ietf:rfc:8936`) from the transmitter's URL for this stream.
        case poll

        /// The method's URN.
        public var method: String {
            switch self {
            case .push: Self.pushMethod
            case .poll: Self.pollMethod
            }
        }

        public static let pushMethod = "urn:ietf:rfc:8935"
        public static let pollMethod = "urn:ietf:rfc:8936"
    }

    /// A stream's status (SSF 1.0 §8.1.2).
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Events are delivered.
        case enabled
        /// Events are kept and go out once the stream is enabled again.
        case paused
        /// Events are not kept.
        case disabled
    }

    /// `stream_id`.
    public var id: UUID
    /// The principal that created it; only it (and admins) may see or change it.
    public var owner: String
    /// The `aud` of its SETs.
    public var audience: [String]
    public var delivery: Delivery
    /// The event types (URIs) the receiver asked for.
    public var eventsRequested: [String]
    /// What Airlock delivers: the requested types it supports.
    public var eventsDelivered: [String]
    public var description: String
    public var status: Status
    /// Why it has its status, as its receiver said.
    public var statusReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, owner: String, audience: [String], delivery: Delivery, eventsRequested: [String],
        eventsDelivered: [String], description: String = "", status: Status = .enabled, statusReason: String? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.owner = owner
        self.audience = audience
        self.delivery = delivery
        self.eventsRequested = eventsRequested
        self.eventsDelivered = eventsDelivered
        self.description = description
        self.status = status
        self.statusReason = statusReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The types of `requested` Airlock delivers, in the order asked, each once.
    public static func delivered(from requested: [String]) -> [String] {
        let supported = Set(SharedSignalsTransmitter.supportedEvents.map(\.rawValue))
        var seen = Set<String>()
        return requested.filter { supported.contains($0) && seen.insert($0).inserted }
    }
}
