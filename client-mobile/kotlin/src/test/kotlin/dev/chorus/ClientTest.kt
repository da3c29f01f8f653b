// The Kotlin binding against live chorus servers: what an Android or JVM app
// does with it. Every wait is on an event, with a generous deadline.
package dev.chorus

import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking

class ClientTest {
    private val settings = Settings()
    private val cleanups = mutableListOf<() -> Unit>()

    @AfterTest
    fun cleanup() {
        cleanups.asReversed().forEach { runCatching(it) }
    }

    private fun node(name: String = "chorus", nats: String? = null): Node =
        Node(settings, name, nats = nats).also { n -> cleanups += { n.proc.stop() } }

    private fun client(url: String, options: ClientOptions, listener: ClientListener? = null, tokenSource: TokenSource? = null): Client =
        Client(url, options, listener, tokenSource).also { c -> cleanups += { c.close() } }

    @Test
    fun `two clients chat in JSON and MessagePack, with presence, join and leave, history and a user message`() = runBlocking<Unit> {
        val node = node()
        val aliceEvents = ClientEvents("alice")
        val bobEvents = ClientEvents("bob")
        val alice = client(node.ws, ClientOptions(token = settings.token("alice")), aliceEvents)
        val bob = client(node.ws, ClientOptions(token = settings.token("bob"), codec = WireCodec.MESSAGE_PACK), bobEvents)
        alice.connect()
        bob.connect()
        assertEquals(ConnectionState.CONNECTED, alice.state())
        aliceEvents.state(ConnectionState.CONNECTED)
        assertEquals(listOf(ConnectionState.CONNECTING, ConnectionState.CONNECTED), aliceEvents.states())

        val aliceRoom = SubEvents("alice chat:room")
        val bobRoom = SubEvents("bob chat:room")
        val aliceSub = alice.subscribe("chat:room", aliceRoom)
        assertEquals("chat:room", aliceSub.channel())
        assertEquals(Recovery.FRESH, aliceRoom.subscribed())
        val bobSub = bob.subscribe("chat:room", bobRoom)
        assertEquals(Recovery.FRESH, bobRoom.subscribed())
        aliceRoom.events.next("bob joins") { it is SubscriptionEvent.Joined && it.member.info.user == "bob" }

        val sent = alice.publish("chat:room", """{"text":"hello from alice"}""".toByteArray())
        assertEquals(1L, sent.position?.offset)
        assertFalse(sent.duplicate)
        val got = bobRoom.publication("alice's message") { it.data.text().contains("hello from alice") }
        assertEquals("""{"text":"hello from alice"}""", got.data.text())
        assertEquals("alice", got.info?.user)
        assertEquals(1L, got.offset)
        // Records print and compare their payloads by content, not as array references.
        assertTrue(got.toString().contains("""data={"text":"hello from alice"}"""), got.toString())
        assertEquals(got, got.copy(data = got.data.copyOf()))
        assertEquals(got.hashCode(), got.copy(data = got.data.copyOf()).hashCode())
        bob.publish("chat:room", """{"text":"hi back from bob"}""".toByteArray())
        val back = aliceRoom.publication("bob's reply") { it.data.text().contains("hi back") }
        assertEquals("bob", back.info?.user)
        assertEquals(2L, back.offset)

        assertEquals(listOf("alice", "bob"), alice.presence("chat:room").map { it.user }.sorted())
        assertEquals(PresenceStats(clients = 2, users = 2), bob.presenceStats("chat:room"))
        val page = alice.history("chat:room", limit = 10)
        assertEquals(listOf(1L, 2L), page.publications.map { it.offset })
        assertEquals(2L, page.position.offset)
        val newest = alice.history("chat:room", limit = 1, reverse = true)
        assertEquals(listOf("""{"text":"hi back from bob"}"""), newest.publications.map { it.data.text() })

        bob.sendToUser("alice", """{"dm":"psst"}""".toByteArray())
        val dm = aliceEvents.events.next("bob's user message") { it is ClientEvent.MessageReceived } as ClientEvent.MessageReceived
        assertEquals("""{"dm":"psst"}""", dm.message.data.text())
        assertEquals("bob", dm.message.from?.user)
        assertFalse(dm.message.broadcast)
        alice.ping()

        bobSub.unsubscribe()
        val ended = bobRoom.events.next("unsubscribed") { it is SubscriptionEvent.Unsubscribed } as SubscriptionEvent.Unsubscribed
        assertNull(ended.error)
        aliceRoom.events.next("bob leaves") { it is SubscriptionEvent.Left && it.member.info.user == "bob" }
        assertEquals(listOf("alice"), bob.presence("chat:room").map { it.user })
        bobSub.unsubscribe() // a second call does nothing
    }

    @Test
    fun `bad input gets typed errors and the connection keeps serving`() = runBlocking<Unit> {
        val node = node()
        val alice = client(node.ws, ClientOptions(token = settings.token("alice")))
        alice.connect()
        val room = SubEvents("alice chat:room")
        alice.subscribe("chat:room", room)
        room.subscribed()
        val duplicate = assertFailsWith<ChorusException.DuplicateSubscription> { alice.subscribe("chat:room", SubEvents("again")) }
        assertTrue(duplicate.reason.contains("chat:room"), duplicate.reason)
        assertFailsWith<ChorusException.InvalidChannel> { alice.subscribe("chat:bad name\u0000", SubEvents("bad")) }
        val refused = assertFailsWith<ChorusException.Server> { alice.broadcast("""{"all":true}""".toByteArray()) }
        assertFalse(refused.temporary, "a permission error is terminal: $refused")
        assertTrue(refused.code in 100..199, "a server code from the table: ${refused.code}")

        assertFailsWith<ChorusException.InvalidArgument> { alice.history("chat:room", limit = -1) }

        alice.publish("chat:room", """{"still":"working"}""".toByteArray())
        room.publication("the publish after the errors") { it.data.text().contains("still") }

        // Options that cannot work are refused at once, by the rules every SDK shares.
        val url = assertFailsWith<ChorusException.InvalidArgument> { Client("http://${node.addr}/ws") }
        assertTrue(url.reason.contains("ws://"), url.reason)
        assertFailsWith<ChorusException.InvalidArgument> { Client(node.ws, ClientOptions(minReconnectDelayMs = 5_000L, maxReconnectDelayMs = 1_000L)) }
        assertFailsWith<ChorusException.InvalidArgument> { Client(node.ws, ClientOptions(connectTimeoutMs = -1L)) }
    }

    @Test
    fun `reconnects after a server restart and recovers every missed publication`() = runBlocking<Unit> {
        val dir = tempDir("chorus-kotlin-")
        cleanups += { dir.deleteRecursively() }
        val nats = Nats(dir).also { n -> cleanups += { n.proc.stop() } }
        var a = node("chorus A", nats.url)
        val b = node("chorus B", nats.url)
        val events = ClientEvents("reader")
        val reader = client(
            a.ws,
            ClientOptions(token = settings.token("reader"), minReconnectDelayMs = 100L, maxReconnectDelayMs = 500L),
            events,
        )
        reader.connect()
        val stream = SubEvents("reader chat:stream")
        reader.subscribe("chat:stream", stream)
        assertEquals(Recovery.FRESH, stream.subscribed())

        for (n in 1..20) b.apiPublish("chat:stream", """{"n":$n}""")
        stream.publication("the first 20 live") { it.offset == 20L }

        a.proc.kill()
        val lost = events.state(ConnectionState.CONNECTING)
        assertTrue(lost?.reconnect ?: true, "a dropped connection reconnects: $lost")
        stream.events.next("subscribing") { it == SubscriptionEvent.Subscribing }
        for (n in 21..40) b.apiPublish("chat:stream", """{"n":$n}""")
        a = a.restarted().also { n -> cleanups += { n.proc.stop() } }

        events.state(ConnectionState.CONNECTED)
        assertEquals(Recovery.RECOVERED, stream.subscribed())
        for (n in 41..60) b.apiPublish("chat:stream", """{"n":$n}""")
        stream.publication("the last live one") { it.offset == 60L }

        val pubs = stream.publications()
        assertEquals((1..60).map { """{"n":$it}""" }, pubs.map { it.data.text() }, "no gap, no duplicate, in order")
        assertEquals((1L..60L).toList(), pubs.map { it.offset })
    }

    @Test
    fun `a terminal close code fails connect, stops the client and says why`() = runBlocking<Unit> {
        val node = node()
        val events = ClientEvents("mallory")
        val mallory = client(
            node.ws,
            ClientOptions(token = settings.token("mallory", key = "not-the-secret"), minReconnectDelayMs = 10L, maxReconnectDelayMs = 20L),
            events,
        )
        val e = assertFailsWith<ChorusException.Closed> { mallory.connect() }
        val close = e.close ?: throw AssertionError("no close info: $e")
        assertTrue(close.code in 4500..4999, "a terminal code: $close")
        assertFalse(close.reconnect)
        assertEquals("unauthorized", close.name)
        assertEquals(ConnectionState.CLOSED, mallory.state())
        assertEquals(close, mallory.lastClose())
        assertEquals(close, events.state(ConnectionState.CLOSED))
        assertEquals(listOf(ConnectionState.CONNECTING, ConnectionState.CLOSED), events.states())
        assertFailsWith<ChorusException.Closed> { mallory.publish("chat:room", "{}".toByteArray()) }
    }

    @Test
    fun `the server kicks a user, a terminal close code on a live connection`() = runBlocking<Unit> {
        val node = node()
        val events = ClientEvents("eve")
        val eve = client(node.ws, ClientOptions(token = settings.token("eve")), events)
        eve.connect()
        node.api("disconnect", """{"user":"eve","reason":"banned"}""")
        val close = events.state(ConnectionState.CLOSED) ?: throw AssertionError("no close info")
        assertEquals(4506, close.code)
        assertEquals("kicked", close.name)
        assertFalse(close.reconnect)
    }

    @Test
    fun `a token source supplies tokens, and its terminal error closes the client`() = runBlocking<Unit> {
        val node = node()
        val calls = AtomicInteger()
        val carol = client(
            node.ws,
            ClientOptions(),
            tokenSource = object : TokenSource {
                override fun token(): String {
                    calls.incrementAndGet()
                    return settings.token("carol")
                }
            },
        )
        carol.connect()
        assertTrue(calls.get() >= 1)
        val room = SubEvents("carol chat:room")
        // Destroying the handle (as the garbage collector would) keeps the subscription.
        carol.subscribe("chat:room", room).close()
        carol.publish("chat:room", "{}".toByteArray())
        assertEquals("carol", room.publication("carol's own message").info?.user)

        val refusing = client(
            node.ws,
            ClientOptions(minReconnectDelayMs = 10L, maxReconnectDelayMs = 20L),
            tokenSource = object : TokenSource {
                override fun token(): String = throw ChorusException.Server(code = 101, reason = "signed out", temporary = false)
            },
        )
        val e = assertFailsWith<ChorusException.Closed> { refusing.connect() }
        assertEquals(false, e.close?.reconnect, "terminal: $e")
    }

    @Test
    fun `a dead first URL costs one attempt, reported with its cause, then a fallback URL serves`() = runBlocking<Unit> {
        val node = node()
        // Nothing listens on port 1: the first URL is refused at once.
        val dead = node.ws.replace(Regex(""":(\d+)/"""), ":1/")
        val events = ClientEvents("alice")
        val alice = client(
            dead,
            ClientOptions(fallbackUrls = listOf(node.ws), token = settings.token("alice"), minReconnectDelayMs = 50L),
            events,
        )
        alice.connect()
        assertEquals(ConnectionState.CONNECTED, alice.state())
        val failed = events.events.next("the failed attempt") { it is ClientEvent.ConnectionFailed } as ClientEvent.ConnectionFailed
        assertEquals(dead, failed.url)
        assertEquals(1, failed.attempt)
        assertEquals(1006, failed.reason.code)
        assertTrue(failed.reason.reason.contains("refused", ignoreCase = true), failed.reason.reason)
        assertTrue(failed.retryInMs != null)
        val room = SubEvents("alice chat:urls")
        alice.subscribe("chat:urls", room)
        assertEquals(Recovery.FRESH, room.subscribed())
        alice.publish("chat:urls", """{"n":1}""".toByteArray())
        assertEquals("""{"n":1}""", room.publication("the publication") { true }.data.text())
    }

    @Test
    fun `a client talks to a node over wss with the app's own CA`() = runBlocking<Unit> {
        val certificates = Certificates()
        val node = Node(settings, "chorus (tls)", tls = certificates).also { n -> cleanups += { n.proc.stop() } }
        assertTrue(node.ws.startsWith("wss://"))
        val alice = client(node.ws, ClientOptions(rootCertificatesPem = certificates.caPem, token = settings.token("alice")))
        alice.connect()
        val room = SubEvents("alice chat:tls")
        alice.subscribe("chat:tls", room)
        assertEquals(Recovery.FRESH, room.subscribed())
        alice.publish("chat:tls", """{"over":"tls"}""".toByteArray())
        assertEquals("""{"over":"tls"}""", room.publication("over tls") { true }.data.text())
        assertFailsWith<ChorusException.InvalidCertificate> {
            Client(node.ws, ClientOptions(rootCertificatesPem = "not a certificate"), null, null)
        }
    }
}
