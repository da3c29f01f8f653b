// A JVM app on the installed library: connect, subscribe, publish, receive.
// Arguments: the node's WebSocket URL and a token.
package example

import dev.chorus.Client
import dev.chorus.ClientOptions
import dev.chorus.SubscriptionEvent
import dev.chorus.SubscriptionListener
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

fun main(args: Array<String>) = runBlocking {
    val (url, token) = args
    val client = Client(url, ClientOptions(token = token))
    client.connect()
    val received = CompletableDeferred<String>()
    client.subscribe("chat:consumer", object : SubscriptionListener {
        override fun onEvent(event: SubscriptionEvent) {
            if (event is SubscriptionEvent.Published) received.complete(event.publication.data.decodeToString())
        }
    })
    client.publish("chat:consumer", """{"text":"hello from a Maven app"}""".toByteArray())
    println(withTimeout(30_000) { received.await() })
    client.close()
}
