// The Swift binding against live chorus servers, mirroring the Kotlin suite
// (client-mobile/kotlin/src/test/kotlin/dev/chorus/ClientTest.kt) test for test.
import Chorus
import Foundation
import XCTest

final class ClientTests: XCTestCase {
    private let settings = Settings()
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups = []
        super.tearDown()
    }

    private func node(_ name: String = "chorus", nats: String? = nil) throws -> Node {
        let n = try Node(settings, name: name, nats: nats)
        cleanups.append { n.proc.stop() }
        return n
    }

    func testTwoClientsChatInJsonAndMessagePackWithPresenceJoinLeaveHistoryAndAUserMessage() async throws {
        let node = try node()
        let aliceEvents = ClientEvents("alice")
        let bobEvents = ClientEvents("bob")
        let alice = try Client(url: node.ws, options: ClientOptions(token: settings.token("alice")), listener: aliceEvents)
        let bob = try Client(url: node.ws, options: ClientOptions(token: settings.token("bob"), codec: .messagePack), listener: bobEvents)
        try await alice.connect()
        try await bob.connect()
        XCTAssertEqual(alice.state(), .connected)
        _ = try await aliceEvents.state(.connected)
        XCTAssertEqual(aliceEvents.states(), [.connecting, .connected])

        let aliceRoom = SubEvents("alice chat:room")
        let bobRoom = SubEvents("bob chat:room")
        let aliceSub = try await alice.subscribe(channel: "chat:room", listener: aliceRoom)
        XCTAssertEqual(aliceSub.channel(), "chat:room")
        let aliceRecovery = try await aliceRoom.subscribed()
        XCTAssertEqual(aliceRecovery, .fresh)
        let bobSub = try await bob.subscribe(channel: "chat:room", listener: bobRoom)
        let bobRecovery = try await bobRoom.subscribed()
        XCTAssertEqual(bobRecovery, .fresh)
        _ = try await aliceRoom.events.next("bob joins") {
            if case .joined(let m) = $0 { return m.info.user == "bob" }
            return false
        }

        let sent = try await alice.publish(channel: "chat:room", data: Data(#"{"text":"hello from alice"}"#.utf8))
        XCTAssertEqual(sent.position?.offset, 1)
        XCTAssertFalse(sent.duplicate)
        let got = try await bobRoom.publication("alice's message") { $0.data.text.contains("hello from alice") }
        XCTAssertEqual(got.data.text, #"{"text":"hello from alice"}"#)
        XCTAssertEqual(got.info?.user, "alice")
        XCTAssertEqual(got.offset, 1)
        _ = try await bob.publish(channel: "chat:room", data: Data(#"{"text":"hi back from bob"}"#.utf8))
        let back = try await aliceRoom.publication("bob's reply") { $0.data.text.contains("hi back") }
        XCTAssertEqual(back.info?.user, "bob")
        XCTAssertEqual(back.offset, 2)

        let members = try await alice.presence(channel: "chat:room")
        XCTAssertEqual(members.map(\.user).sorted(), ["alice", "bob"])
        let stats = try await bob.presenceStats(channel: "chat:room")
        XCTAssertEqual(stats, PresenceStats(clients: 2, users: 2))
        let page = try await alice.history(channel: "chat:room", limit: 10)
        XCTAssertEqual(page.publications.map(\.offset), [1, 2])
        XCTAssertEqual(page.position.offset, 2)
        let newest = try await alice.history(channel: "chat:room", limit: 1, reverse: true)
        XCTAssertEqual(newest.publications.map(\.data.text), [#"{"text":"hi back from bob"}"#])

        try await bob.sendToUser(user: "alice", data: Data(#"{"dm":"psst"}"#.utf8))
        let dm = try await aliceEvents.events.next("bob's user message") {
            if case .messageReceived = $0 { return true }
            return false
        }
        guard case .messageReceived(let message) = dm else { return XCTFail("not a message: \(dm)") }
        XCTAssertEqual(message.data.text, #"{"dm":"psst"}"#)
        XCTAssertEqual(message.from?.user, "bob")
        XCTAssertFalse(message.broadcast)
        try await alice.ping()

        bobSub.unsubscribe()
        let ended = try await bobRoom.events.next("unsubscribed") {
            if case .unsubscribed = $0 { return true }
            return false
        }
        XCTAssertEqual(ended, .unsubscribed(error: nil))
        _ = try await aliceRoom.events.next("bob leaves") {
            if case .left(let m) = $0 { return m.info.user == "bob" }
            return false
        }
        let left = try await bob.presence(channel: "chat:room")
        XCTAssertEqual(left.map(\.user), ["alice"])
        bobSub.unsubscribe() // a second call does nothing
    }

    func testBadInputGetsTypedErrorsAndTheConnectionKeepsServing() async throws {
        let node = try node()
        let alice = try Client(url: node.ws, options: ClientOptions(token: settings.token("alice")))
        try await alice.connect()
        let room = SubEvents("alice chat:room")
        _ = try await alice.subscribe(channel: "chat:room", listener: room)
        _ = try await room.subscribed()
        do {
            _ = try await alice.subscribe(channel: "chat:room", listener: SubEvents("again"))
            XCTFail("a second subscription to the channel")
        } catch ChorusError.DuplicateSubscription(let reason) {
            XCTAssertTrue(reason.contains("chat:room"), reason)
        }
        do {
            _ = try await alice.subscribe(channel: "chat:bad name\u{0}", listener: SubEvents("bad"))
            XCTFail("an invalid channel name")
        } catch ChorusError.InvalidChannel {}
        do {
            try await alice.broadcast(data: Data(#"{"all":true}"#.utf8))
            XCTFail("a broadcast without the claim")
        } catch ChorusError.Server(let code, _, let temporary) {
            XCTAssertFalse(temporary, "a permission error is terminal")
            XCTAssertTrue((100...199).contains(code), "a server code from the table: \(code)")
        }

        _ = try await alice.publish(channel: "chat:room", data: Data(#"{"still":"working"}"#.utf8))
        _ = try await room.publication("the publish after the errors") { $0.data.text.contains("still") }
    }

    func testReconnectsAfterAServerRestartAndRecoversEveryMissedPublication() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        cleanups.append { try? FileManager.default.removeItem(at: dir) }
        let nats = try Nats(dir: dir)
        cleanups.append { nats.proc.stop() }
        var a = try node("chorus A", nats: nats.url)
        let b = try node("chorus B", nats: nats.url)
        let events = ClientEvents("reader")
        let reader = try Client(
            url: a.ws,
            options: ClientOptions(token: settings.token("reader"), minReconnectDelayMs: 100, maxReconnectDelayMs: 500),
            listener: events
        )
        try await reader.connect()
        let stream = SubEvents("reader chat:stream")
        let sub = try await reader.subscribe(channel: "chat:stream", listener: stream)
        let first = try await stream.subscribed()
        XCTAssertEqual(first, .fresh)

        for n in 1...20 { try await b.apiPublish("chat:stream", #"{"n":\#(n)}"#) }
        _ = try await stream.publication("the first 20 live") { $0.offset == 20 }

        a.proc.kill()
        let lost = try await events.state(.connecting)
        XCTAssertTrue(lost?.reconnect ?? true, "a dropped connection reconnects: \(String(describing: lost))")
        _ = try await stream.events.next("subscribing") { $0 == .subscribing }
        for n in 21...40 { try await b.apiPublish("chat:stream", #"{"n":\#(n)}"#) }
        a = try a.restarted()
        let restarted = a
        cleanups.append { restarted.proc.stop() }

        _ = try await events.state(.connected)
        let recovery = try await stream.subscribed()
        XCTAssertEqual(recovery, .recovered)
        for n in 41...60 { try await b.apiPublish("chat:stream", #"{"n":\#(n)}"#) }
        _ = try await stream.publication("the last live one") { $0.offset == 60 }

        let pubs = stream.publications()
        XCTAssertEqual(pubs.map(\.data.text), (1...60).map { #"{"n":\#($0)}"# }, "no gap, no duplicate, in order")
        XCTAssertEqual(pubs.map(\.offset), (1...60).map { Int64($0) })
        withExtendedLifetime(sub) {}
    }

    func testATerminalCloseCodeFailsConnectStopsTheClientAndSaysWhy() async throws {
        let node = try node()
        let events = ClientEvents("mallory")
        let mallory = try Client(
            url: node.ws,
            options: ClientOptions(token: settings.token("mallory", key: "not-the-secret"), minReconnectDelayMs: 10, maxReconnectDelayMs: 20),
            listener: events
        )
        do {
            try await mallory.connect()
            XCTFail("connected with a forged token")
        } catch ChorusError.Closed(_, let close) {
            guard let close else { return XCTFail("no close info") }
            XCTAssertTrue((4500...4999).contains(close.code), "a terminal code: \(close)")
            XCTAssertFalse(close.reconnect)
            XCTAssertEqual(close.name, "unauthorized")
            XCTAssertEqual(mallory.state(), .closed)
            XCTAssertEqual(mallory.lastClose(), close)
            let seen = try await events.state(.closed)
            XCTAssertEqual(seen, close)
            XCTAssertEqual(events.states(), [.connecting, .closed])
        }
        do {
            _ = try await mallory.publish(channel: "chat:room", data: Data("{}".utf8))
            XCTFail("published on a closed client")
        } catch ChorusError.Closed {}
    }

    func testTheServerKicksAUserATerminalCloseCodeOnALiveConnection() async throws {
        let node = try node()
        let events = ClientEvents("eve")
        let eve = try Client(url: node.ws, options: ClientOptions(token: settings.token("eve")), listener: events)
        try await eve.connect()
        try await node.api("disconnect", #"{"user":"eve","reason":"banned"}"#)
        guard let close = try await events.state(.closed) else { return XCTFail("no close info") }
        XCTAssertEqual(close.code, 4506)
        XCTAssertEqual(close.name, "kicked")
        XCTAssertFalse(close.reconnect)
    }

    func testATokenSourceSuppliesTokensAndItsTerminalErrorClosesTheClient() async throws {
        final class Source: TokenSource, @unchecked Sendable {
            let make: () throws -> String
            private(set) var calls = 0
            init(_ make: @escaping () throws -> String) { self.make = make }
            func token() throws -> String {
                calls += 1
                return try make()
            }
        }
        let node = try node()
        let settings = self.settings
        let source = Source { settings.token("carol") }
        let carol = try Client(url: node.ws, options: ClientOptions(), tokenSource: source)
        try await carol.connect()
        XCTAssertGreaterThanOrEqual(source.calls, 1)
        let room = SubEvents("carol chat:room")
        // Dropping the handle keeps the subscription.
        _ = try await carol.subscribe(channel: "chat:room", listener: room)
        _ = try await carol.publish(channel: "chat:room", data: Data("{}".utf8))
        let own = try await room.publication("carol's own message")
        XCTAssertEqual(own.info?.user, "carol")

        let refusing = try Client(
            url: node.ws,
            options: ClientOptions(minReconnectDelayMs: 10, maxReconnectDelayMs: 20),
            tokenSource: Source { throw ChorusError.Server(code: 101, reason: "signed out", temporary: false) }
        )
        do {
            try await refusing.connect()
            XCTFail("connected without a token")
        } catch ChorusError.Closed(_, let close) {
            XCTAssertEqual(close?.reconnect, false)
        }
    }
}
