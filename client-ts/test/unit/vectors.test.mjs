// Codec parity with Rust: the wasm build decodes every server frame of the
// shared vectors (conformance/vectors/) exactly as the native protocol crate
// encodes it, from JSON and from MessagePack, and rejects every invalid one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../dist/node.js'; // loads the WebAssembly
import { serverFrameToJson } from '../../dist/wasm.js';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../conformance/vectors');
const load = (file) => JSON.parse(readFileSync(path.join(vectors, file), 'utf8')).vectors;
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const text = (s) => new TextEncoder().encode(s);

const valid = ['replies.json', 'pushes.json', 'payloads.json'].flatMap(load).filter((v) => v.direction === 'server');

test('the vectors hold server frames of every kind', () => {
  const kinds = new Set(valid.map((v) => v.kind));
  for (const kind of ['connect', 'subscribe', 'publish', 'history', 'error', 'publication', 'join', 'leave', 'message', 'disconnect', 'ping']) {
    assert.ok(kinds.has(kind), `no server vector of kind ${kind}`);
  }
});

for (const v of valid) {
  test(`server frame ${v.name}: JSON and MessagePack decode to the reference JSON`, () => {
    assert.equal(serverFrameToJson(text(v.json), 'json'), v.json);
    assert.equal(serverFrameToJson(hex(v.msgpack), 'msgpack'), v.json);
  });
}

const invalid = load('invalid.json').filter((v) => v.direction === 'server');

test('there are invalid server frames to reject', () => {
  assert.ok(invalid.length >= 5, `only ${invalid.length}`);
});

for (const v of invalid) {
  test(`invalid server frame ${v.name} is rejected`, () => {
    const bytes = v.encoding === 'hex' ? hex(v.frame) : text(v.frame);
    assert.throws(() => serverFrameToJson(bytes, v.codec), /^Error: \d+: /);
  });
}
