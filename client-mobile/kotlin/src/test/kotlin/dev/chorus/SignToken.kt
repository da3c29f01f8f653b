// How a JVM or Android backend signs a Chorus token without a JWT library:
// docs/configuration.md shows this file's function, and the tests sign every
// token with it.
package dev.chorus

import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/** An HS256 token for `user`, valid for `ttlSeconds`; `claims` is more JSON members, such as `"subs":["chat:*"]`. */
fun signToken(secret: String, user: String, ttlSeconds: Long = 3600, claims: String = ""): String {
    val enc = Base64.getUrlEncoder().withoutPadding()
    fun part(json: String) = enc.encodeToString(json.toByteArray())
    val exp = System.currentTimeMillis() / 1000 + ttlSeconds
    val extra = if (claims.isEmpty()) "" else ",$claims"
    val userJson = "\"" + user.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
    val unsigned = part("""{"alg":"HS256","typ":"JWT"}""") + "." + part("""{"sub":$userJson,"exp":$exp$extra}""")
    val mac = Mac.getInstance("HmacSHA256").apply { init(SecretKeySpec(secret.toByteArray(), "HmacSHA256")) }
    return unsigned + "." + enc.encodeToString(mac.doFinal(unsigned.toByteArray()))
}
