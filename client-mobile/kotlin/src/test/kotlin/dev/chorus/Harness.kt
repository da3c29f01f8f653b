// Real processes for the Kotlin tests: chorus nodes, nats-server, tokens, and
// listeners whose events a test awaits (never sleeps for). Binaries come from
// the system properties the pom sets: chorus.bin and chorus.nats.bin.
package dev.chorus

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.security.SecureRandom
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout

/** Generous: a loaded CI machine may be slow, and nothing here sleeps. */
const val DEADLINE_MS = 45_000L

private val random = SecureRandom()

private fun randomHex(bytes: Int): String {
    val b = ByteArray(bytes).also(random::nextBytes)
    return b.joinToString("") { "%02x".format(it) }
}

/** A child process whose output is kept for failure reports and searched for readiness lines. */
class Proc(val name: String, command: List<String>, env: Map<String, String> = emptyMap(), dir: File? = null) {
    private val output = StringBuilder()
    private val lock = Object()
    val process: Process

    init {
        val builder = ProcessBuilder(command).redirectErrorStream(true)
        if (dir != null) builder.directory(dir)
        builder.environment().putAll(env)
        process = try {
            builder.start()
        } catch (e: java.io.IOException) {
            throw AssertionError("$name: cannot start ${command[0]} (built? see scripts/test-kotlin): ${e.message}")
        }
        thread(isDaemon = true, name = "$name output") {
            try {
                process.inputStream.bufferedReader().forEachLine { line ->
                    synchronized(lock) {
                        output.append(line).append('\n')
                        lock.notifyAll()
                    }
                }
            } catch (_: java.io.IOException) {
                // The stream closes when the process is stopped.
            }
            synchronized(lock) { lock.notifyAll() }
        }
    }

    /** The output so far. */
    fun output(): String = synchronized(lock) { output.toString() }

    /** The first match of `pattern` in the output from character `from` on, waiting up to the deadline. */
    fun waitFor(pattern: Regex, from: Int = 0): MatchResult {
        val end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS)
        synchronized(lock) {
            while (true) {
                pattern.find(output, from)?.let { return it }
                val left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())
                if (left <= 0) throw AssertionError("$name: no $pattern within $DEADLINE_MS ms:\n$output")
                if (!process.isAlive) {
                    // Let the reader drain what is left, then give up.
                    lock.wait(200)
                    pattern.find(output, from)?.let { return it }
                    throw AssertionError("$name exited (${process.exitValue()}) before $pattern:\n$output")
                }
                lock.wait(left)
            }
        }
    }

    /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
    fun stop() {
        if (!process.isAlive) return
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }

    /** SIGKILL: no chance to say goodbye. */
    fun kill() {
        process.destroyForcibly().waitFor()
    }
}

/** A fresh temporary directory. */
fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile()

/** A nats-server with JetStream on a free loopback port, its store under `dir`. */
class Nats(dir: File) {
    val proc = Proc(
        "nats-server",
        listOf(System.getProperty("chorus.nats.bin"), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", File(dir, "jetstream").path),
        dir = dir,
    )
    val url: String

    init {
        val port = proc.waitFor(Regex("""Listening for client connections on 127\.0\.0\.1:(\d+)""")).groupValues[1]
        proc.waitFor(Regex("Server is ready"))
        url = "nats://127.0.0.1:$port"
    }
}

/** Secrets and settings shared by the nodes of one test class. */
class Settings {
    /** Prefixed with letters, so CHORUS_* variables read it as a string. */
    val secret = "test-secret-" + randomHex(24)
    val apiKey = "test-api-key-" + randomHex(12)

    /** Auth, the server API, and a `chat` namespace with history, presence and join/leave events. */
    fun env(): Map<String, String> = mapOf(
        "NO_COLOR" to "1",
        "CHORUS_LOG" to "info",
        "CHORUS_LIMITS__SHUTDOWN_TIMEOUT_MS" to "2000",
        "CHORUS_AUTH__HMAC_SECRET" to secret,
        "CHORUS_API_KEY" to apiKey,
        "CHORUS_NAMESPACES__CHAT__HISTORY_SIZE" to "1000",
        "CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS" to "600000",
        "CHORUS_NAMESPACES__CHAT__PRESENCE" to "true",
        "CHORUS_NAMESPACES__CHAT__JOIN_LEAVE" to "true",
        "CHORUS_CLUSTER__STORAGE" to "memory",
    )

    /** An HS256 token for `sub`, valid for an hour, signed with `key`. */
    fun token(sub: String, key: String = secret): String = signToken(key, sub)
}

/** A CA and a certificate it signed for 127.0.0.1 and localhost (`chorus-certs`). */
class Certificates {
    val dir: File = tempDir("chorus-certs")

    init {
        val proc = Proc("chorus-certs", listOf(System.getProperty("chorus.certs.bin"), dir.path))
        check(proc.process.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS) && proc.process.exitValue() == 0) {
            "chorus-certs failed: ${proc.output()}"
        }
    }

    val caPem: String get() = File(dir, "ca.pem").readText()
}

/**
 * A chorus node; `listen` defaults to a free port, `nats` switches it to the
 * cluster broker, `tls` makes it serve wss:// with that certificate.
 */
class Node(
    val settings: Settings,
    val name: String = "chorus",
    listen: String = "127.0.0.1:0",
    val nats: String? = null,
    val tls: Certificates? = null,
) {
    val proc: Proc
    val addr: String

    init {
        val args = mutableListOf(System.getProperty("chorus.bin"), "--listen", listen)
        if (nats != null) args += listOf("--nats", nats)
        val env = settings.env().toMutableMap()
        if (tls != null) {
            env["CHORUS_TLS__CERT_FILE"] = File(tls.dir, "cert.pem").path
            env["CHORUS_TLS__KEY_FILE"] = File(tls.dir, "key.pem").path
        }
        proc = Proc(name, args, env)
        addr = proc.waitFor(Regex("""WebSocket at wss?://([0-9.]+:\d+)/""")).groupValues[1]
    }

    val ws get() = if (tls != null) "wss://localhost:${addr.substringAfter(':')}/ws" else "ws://$addr/ws"

    /** A new process on the same address and broker. */
    fun restarted(): Node = Node(settings, "$name (restarted)", addr, nats)

    /** Publishes JSON through the server API, as an app's backend would. */
    fun apiPublish(channel: String, json: String) = api("publish", """{"channel":"$channel","data":$json}""")

    /** Calls `/api/<method>` of the server API with a JSON body. */
    fun api(method: String, body: String) {
        val request = HttpRequest.newBuilder(URI("http://$addr/api/$method"))
            .header("Authorization", "apikey ${settings.apiKey}")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$method: ${response.statusCode()} ${response.body()}" }
    }

    companion object {
        private val http: HttpClient = HttpClient.newHttpClient()
    }
}

/** Events as a listener received them, to be awaited in order. */
class Events<T>(private val what: String) {
    private val queue = Channel<T>(Channel.UNLIMITED)
    /** Every event so far, for assertions and failure reports. */
    val seen = CopyOnWriteArrayList<T>()

    fun push(event: T) {
        seen.add(event)
        queue.trySend(event)
    }

    /** Skips events until one matches `predicate` and returns it; fails after the deadline. */
    suspend fun next(description: String, predicate: (T) -> Boolean = { true }): T = try {
        withTimeout(DEADLINE_MS) {
            var event = queue.receive()
            while (!predicate(event)) event = queue.receive()
            event
        }
    } catch (e: TimeoutCancellationException) {
        throw AssertionError("$what: timed out waiting for $description; seen: $seen")
    }
}

/** A ClientListener that records its events. */
class ClientEvents(name: String) : ClientListener {
    val events = Events<ClientEvent>("client $name")
    override fun onEvent(event: ClientEvent) = events.push(event)

    /** Waits for the state `state` and returns its close info. */
    suspend fun state(state: ConnectionState): CloseReason? =
        (events.next("state $state") { it is ClientEvent.StateChanged && it.state == state } as ClientEvent.StateChanged).reason

    /** The states seen so far, in order. */
    fun states(): List<ConnectionState> = events.seen.filterIsInstance<ClientEvent.StateChanged>().map { it.state }
}

/** A SubscriptionListener that records its events. */
class SubEvents(name: String) : SubscriptionListener {
    val events = Events<SubscriptionEvent>("subscription $name")
    override fun onEvent(event: SubscriptionEvent) = events.push(event)

    suspend fun publication(description: String, predicate: (Publication) -> Boolean = { true }): Publication =
        (events.next(description) { it is SubscriptionEvent.Published && predicate(it.publication) } as SubscriptionEvent.Published).publication

    suspend fun subscribed(): Recovery =
        (events.next("subscribed") { it is SubscriptionEvent.Subscribed } as SubscriptionEvent.Subscribed).recovery

    /** The publications received so far. */
    fun publications(): List<Publication> = events.seen.filterIsInstance<SubscriptionEvent.Published>().map { it.publication }
}

/** The UTF-8 text of application data. */
fun ByteArray.text(): String = String(this, Charsets.UTF_8)
