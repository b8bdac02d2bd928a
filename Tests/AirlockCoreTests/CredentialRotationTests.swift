import AirlockCore
import Foundation
import Testing

/// The agent's rotation of one credential, on exact times: renew at two thirds, a successor with overlap when the
/// cap is reached, the old one revoked after the grace period, refusals reported, backoff while the broker is away.
@Suite
struct CredentialRotationTests {
    static let start = Date(timeIntervalSince1970: 1_900_000_000)
    static func at(_ seconds: TimeInterval) -> Date { start.addingTimeInterval(seconds) }
    static func lease(_ from: TimeInterval, _ to: TimeInterval, id: UUID = UUID()) -> CredentialRotation.Lease {
        .init(id: id, periodStart: at(from), expiresAt: at(to))
    }

    @Test("the first tick issues; the credential is handed over; it is renewed at two thirds of each period, moved by the jitter")
    func renewsAtTwoThirds() {
        var rotation = CredentialRotation()
        #expect(rotation.apply(.tick(now: Self.at(0), jitter: 0)) == [.issue])
        let first = Self.lease(0, 300)
        #expect(rotation.apply(.issued(first, asked: Self.at(300), at: Self.at(0))) == [.handOver(first)])
        #expect(rotation.apply(.tick(now: Self.at(1), jitter: 0)) == [.sleep(until: Self.at(200))])
        // +1 jitter: 5 % of 300 s later.
        #expect(rotation.apply(.tick(now: Self.at(1), jitter: 1)) == [.sleep(until: Self.at(215))])
        #expect(rotation.apply(.tick(now: Self.at(200), jitter: 0)) == [.renew(first.id)])
        #expect(rotation.apply(.renewed(expiresAt: Self.at(500), asked: Self.at(500), at: Self.at(200))) == [])
        #expect(!rotation.needsSuccessor)
        // The new period runs 200 → 500: two thirds of it is at 400.
        #expect(rotation.apply(.tick(now: Self.at(201), jitter: 0)) == [.sleep(until: Self.at(400))])
    }

    @Test("at the cap a renewal no longer extends: a successor is issued while the old one works, handed over, and the old one revoked after the grace period")
    func successorWithOverlap() {
        var rotation = CredentialRotation()
        let first = Self.lease(0, 300)
        _ = rotation.apply(.issued(first, asked: first.expiresAt, at: Self.at(0)))
        #expect(rotation.apply(.tick(now: Self.at(200), jitter: 0)) == [.renew(first.id)])
        #expect(rotation.apply(.renewed(expiresAt: Self.at(300), asked: Self.at(500), at: Self.at(200))) == [.issue])
        let second = Self.lease(201, 501)
        #expect(rotation.apply(.issued(second, asked: Self.at(501), at: Self.at(201))) == [.handOver(second)])
        #expect(rotation.superseded == [first.id: Self.at(231)])
        // The next wake is the old one's revocation, well before the new one's renewal.
        #expect(rotation.apply(.tick(now: Self.at(202), jitter: 0)) == [.sleep(until: Self.at(231))])
        #expect(rotation.apply(.tick(now: Self.at(231), jitter: 0)) == [.revoke(first.id), .sleep(until: Self.at(231))])
        _ = rotation.apply(.revoked(first.id, at: Self.at(231)))
        #expect(rotation.superseded.isEmpty)
        #expect(rotation.apply(.tick(now: Self.at(232), jitter: 0)) == [.sleep(until: Self.at(401))])
    }

    @Test("a refused renewal is reported and a successor asked for; a refused successor is reported, retried a minute later, urgent near the end; the current credential is kept")
    func refusalsAreReported() {
        var rotation = CredentialRotation()
        let first = Self.lease(0, 600)
        _ = rotation.apply(.issued(first, asked: first.expiresAt, at: Self.at(0)))
        let refused = rotation.apply(.renewalRefused(reason: "policy_denied", at: Self.at(400)))
        #expect(refused == [.report("renewal refused: policy_denied; asking for a new credential", urgent: false), .issue])
        let noSuccessor = rotation.apply(.issueRefused(reason: "policy_denied", at: Self.at(401)))
        #expect(noSuccessor.count == 2)
        #expect(noSuccessor.last == .tellApplication(.refused(reason: "policy_denied", endsAt: Self.at(600))))
        guard case .report(let text, let urgent)? = noSuccessor.first else {
            Issue.record("not a report: \(noSuccessor)")
            return
        }
        #expect(text.contains("policy_denied") && text.contains("ends at") && !urgent)
        #expect(rotation.current == first)
        #expect(rotation.apply(.tick(now: Self.at(430), jitter: 0)) == [.sleep(until: Self.at(461))])
        #expect(rotation.apply(.tick(now: Self.at(461), jitter: 0)) == [.issue])
        // Within the last sixth (after 500 s) the same refusal is urgent.
        guard case .report(_, let late)? = rotation.apply(.issueRefused(reason: "policy_denied", at: Self.at(520))).first else {
            Issue.record("not a report")
            return
        }
        #expect(late)
        // Past its end with no successor: reported, the application told once, and asked for again after the backoff.
        #expect(rotation.apply(.tick(now: Self.at(600), jitter: 0))
                == [.report("the credential ended before a successor was handed over", urgent: true),
                    .tellApplication(.ended(reason: "it expired")), .issue])
        #expect(rotation.current == nil)
        #expect(rotation.apply(.issueRefused(reason: "policy_denied", at: Self.at(601)))
                == [.report("a new credential was refused: policy_denied", urgent: true),
                    .tellApplication(.refused(reason: "policy_denied", endsAt: nil))])
        #expect(rotation.apply(.tick(now: Self.at(661), jitter: 0)) == [.issue])
    }

    @Test("while the broker is away: backoff doubling to a minute, quiet until the credential nears its end, then urgent")
    func backoffWhileTheBrokerIsAway() {
        var rotation = CredentialRotation()
        let first = Self.lease(0, 600)
        _ = rotation.apply(.issued(first, asked: first.expiresAt, at: Self.at(0)))
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(400))) == [.sleep(until: Self.at(401))])
        #expect(rotation.apply(.tick(now: Self.at(400.5), jitter: 0)) == [.sleep(until: Self.at(401))])
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(401))) == [.sleep(until: Self.at(403))])
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(403))) == [.sleep(until: Self.at(407))])
        for _ in 0..<6 { _ = rotation.apply(.brokerUnreachable(at: Self.at(450))) }
        #expect(rotation.notBefore == Self.at(500), "a minute, cut to a third of the 150 s left")
        let late = rotation.apply(.brokerUnreachable(at: Self.at(510)))
        guard case .report(let text, let urgent)? = late.first else {
            Issue.record("not reported: \(late)")
            return
        }
        #expect(urgent && text.contains("10 attempts"))
        // Back: the renewal goes through and the count starts again.
        #expect(rotation.apply(.tick(now: Self.at(570), jitter: 0)) == [.renew(first.id)])
        #expect(rotation.apply(.renewed(expiresAt: Self.at(1200), asked: Self.at(1200), at: Self.at(570))) == [])
        #expect(rotation.failures == 0)
    }
}

extension CredentialRotationTests {
    @Test("a renewal that gives less than asked makes the period the last: the successor comes at two thirds, or earlier so that grace and lead fit before the end, and the old one is revoked by its end at the latest")
    func cappedRenewalMakesTheLastPeriod() {
        var settings = CredentialRotation.Settings()
        settings.graceSeconds = 30
        settings.leadSeconds = 10
        var rotation = CredentialRotation(settings: settings)
        let first = Self.lease(0, 300)
        _ = rotation.apply(.issued(first, asked: Self.at(300), at: Self.at(0)))
        #expect(rotation.apply(.renewed(expiresAt: Self.at(310), asked: Self.at(500), at: Self.at(200))) == [])
        #expect(rotation.needsSuccessor)
        // Two thirds of 200 → 310 is 273.3; end − grace − lead is 270: the earlier.
        #expect(rotation.apply(.tick(now: Self.at(201), jitter: 0)) == [.sleep(until: Self.at(270))])
        #expect(rotation.apply(.tick(now: Self.at(270), jitter: 0)) == [.issue])
        let second = Self.lease(290, 590)
        #expect(rotation.apply(.issued(second, asked: Self.at(590), at: Self.at(290))) == [.handOver(second)])
        #expect(rotation.superseded == [first.id: Self.at(310)], "grace ends with the old credential at the latest")
        #expect(!rotation.needsSuccessor)
        #expect(rotation.held == [second.id, first.id])
    }

    @Test("a first credential already shorter than asked is the last period at once: no renewal is tried, a successor comes in time")
    func cappedAtIssue() {
        var rotation = CredentialRotation()
        let first = Self.lease(0, 1800)
        _ = rotation.apply(.issued(first, asked: Self.at(3600), at: Self.at(0)))
        #expect(rotation.needsSuccessor)
        #expect(rotation.apply(.tick(now: Self.at(1200), jitter: 0)) == [.issue])
        // A round trip's slack is not a cap.
        var other = CredentialRotation()
        _ = other.apply(.issued(Self.lease(0, 3599.8), asked: Self.at(3600), at: Self.at(0.2)))
        #expect(!other.needsSuccessor)
    }

    @Test("near the end the backoff never waits more than a third of what is left, so an attempt still comes before the end")
    func backoffShrinksNearTheEnd() {
        var rotation = CredentialRotation()
        _ = rotation.apply(.issued(Self.lease(0, 30), asked: Self.at(30), at: Self.at(0)))
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(20))) == [.sleep(until: Self.at(21))])
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(21))) == [.sleep(until: Self.at(23))])
        // 4 s would be the doubling; 7 s are left: a third is 2.33 s.
        #expect(rotation.apply(.brokerUnreachable(at: Self.at(23))) == [.sleep(until: Self.at(23 + 7.0 / 3))])
        // In the last sixth (after 25 s): urgent, and at least the base delay.
        let late = rotation.apply(.brokerUnreachable(at: Self.at(29.5)))
        #expect(late.last == .sleep(until: Self.at(30.5)))
        guard case .report(_, let urgent)? = late.first else {
            Issue.record("not reported: \(late)")
            return
        }
        #expect(urgent)
    }

    @Test("the broker says the credential ended (revoked, or a policy change): reported, the application told, a new one asked for")
    func endedByTheBroker() {
        var rotation = CredentialRotation()
        let first = Self.lease(0, 600)
        _ = rotation.apply(.issued(first, asked: Self.at(600), at: Self.at(0)))
        let actions = rotation.apply(.ended(reason: "the lease is revoked, not active", at: Self.at(100)))
        #expect(actions.dropFirst() == [.tellApplication(.ended(reason: "the lease is revoked, not active")), .issue])
        #expect(rotation.current == nil)
        // Its end passing later tells nobody again.
        #expect(rotation.apply(.tick(now: Self.at(700), jitter: 0)) == [.issue])
    }
}

@Suite
struct CredentialSealTests {
    @Test("sealed to one key for one lease: that key opens it; another key, another lease, a changed byte or another suite do not")
    func sealAndOpen() throws {
        let opener = try CredentialSeal.Opener()
        let lease = UUID()
        let headers = opener.headers
        #expect(headers.map(\.name) == ["Airlock-Seal-Suite", "Airlock-Seal-Key"])
        let recipient = try CredentialSeal.recipient(suite: headers[0].value, publicKey: headers[1].value)
        let secret = Data(#"{"password":"s3cret-never-logged"}"#.utf8)
        let (enc, ciphertext) = try CredentialSeal.seal(secret, to: recipient, lease: lease)
        #expect(ciphertext.range(of: secret) == nil && ciphertext.range(of: Data("s3cret".utf8)) == nil)
        let box: JSONValue = [
            "suite": .string(CredentialSeal.suite), "enc": .string(Base64URL.encode(Array(enc))),
            "ciphertext": .string(Base64URL.encode(Array(ciphertext))),
        ]
        #expect(try opener.open(box, lease: lease) == secret)
        #expect(throws: CredentialSeal.Failure.self) { try CredentialSeal.Opener().open(box, lease: lease) }
        #expect(throws: CredentialSeal.Failure.self) { try opener.open(box, lease: UUID()) }
        var bytes = Array(ciphertext)
        bytes[bytes.count / 2] ^= 0x01
        var changed = box.objectValue ?? [:]
        changed["ciphertext"] = .string(Base64URL.encode(bytes))
        #expect(throws: CredentialSeal.Failure.self) { try opener.open(.object(changed), lease: lease) }
        changed = box.objectValue ?? [:]
        changed["suite"] = "DHKEM-X25519"
        #expect(throws: CredentialSeal.Failure.self) { try opener.open(.object(changed), lease: lease) }
    }

    @Test("a suite other than X-Wing, or a key that is not an X-Wing public key, is refused with its code")
    func refusals() throws {
        let key = try #require(try CredentialSeal.Opener().headers.last?.value)
        do {
            _ = try CredentialSeal.recipient(suite: "DHKEM-P256", publicKey: key)
            Issue.record("accepted another suite")
        } catch {
            #expect(error.code == .unsupportedSuite && error.description.contains("X-Wing-SHA256-AES256GCM"))
        }
        for bad in ["", "AAAA", "not base64url!", String(repeating: "A", count: 5000)] {
            do {
                _ = try CredentialSeal.recipient(suite: CredentialSeal.suite, publicKey: bad)
                Issue.record("accepted \(bad.prefix(20))")
            } catch {
                #expect(error.code == .invalidKey)
            }
        }
    }
}
