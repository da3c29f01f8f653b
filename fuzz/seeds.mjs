// Writes the fuzz targets' seed inputs (run by scripts/fuzz):
//
//   node fuzz/seeds.mjs VECTORS_DIR OUT_DIR
//
// OUT_DIR/decode: every frame of the shared test vectors, in JSON and in
// MessagePack, valid and invalid ones alike. OUT_DIR/token: tokens in the
// shapes fuzz/fuzz_targets/token.rs reads (shape byte first).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [vectorsDir, outDir] = process.argv.slice(2);
if (!vectorsDir || !outDir) {
  console.error("usage: node fuzz/seeds.mjs VECTORS_DIR OUT_DIR");
  process.exit(2);
}

function write(dir, name, bytes) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
}

const decode = join(outDir, "decode");
for (const file of readdirSync(vectorsDir).filter((f) => f.endsWith(".json"))) {
  const { vectors } = JSON.parse(readFileSync(join(vectorsDir, file), "utf8"));
  for (const v of vectors) {
    if (typeof v.json === "string") write(decode, `${v.name}.json`, Buffer.from(v.json));
    if (typeof v.msgpack === "string") write(decode, `${v.name}.msgpack`, Buffer.from(v.msgpack, "hex"));
  }
}

// Claims as the server reads them; the target signs shapes 1 and 2 itself.
const later = 4102444800; // 2100-01-01
const claims = [
  { sub: "alice", exp: later, aud: "chorus-fuzz" },
  { sub: "bob", exp: later, aud: "chorus-fuzz", iat: 1700000000, jti: "t-1", subs: ["chat:*", "news"], pubs: ["chat:lobby"] },
  { sub: "carol", exp: later, aud: ["chorus-fuzz", "other"], nbf: 1700000000, info: { name: "Carol" }, broadcast: true },
  { sub: "dave", exp: later + 0.5, aud: "chorus-fuzz", subs: ["dm:x#dave,erin", "dm:x#erin,frank"] },
  { sub: "erin", exp: 1, aud: "chorus-fuzz" },
  { sub: "", exp: later, aud: "chorus-fuzz" },
];
const token = join(outDir, "token");
claims.forEach((c, i) => {
  const json = Buffer.from(JSON.stringify(c));
  write(token, `claims-${i}`, Buffer.concat([Buffer.from([1, 0]), json]));
  write(token, `header-${i}`, Buffer.concat([Buffer.from([2]), Buffer.from('{"alg":"HS256","typ":"JWT"}\n'), json]));
});
const b64 = (s) => Buffer.from(s).toString("base64url");
write(token, "raw-none", Buffer.concat([Buffer.from([0]), Buffer.from(`${b64('{"alg":"none"}')}.${b64(JSON.stringify(claims[0]))}.`)]));
write(token, "raw-forged", Buffer.concat([Buffer.from([0]), Buffer.from(`${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(claims[1]))}.c2ln`)]));
