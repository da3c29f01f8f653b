// The package on Node.js 20+ (with the ws package as its WebSocket) against a
// real `chorus` node: connect, subscribe, publish and receive, presence,
// history, user messages, and a refused token as a terminal close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { Client, ChorusError, ClosedError, ErrorCode } from '../../dist/node.js';
import { collect, deadline, newSecret, startChorus, stop, token } from '../support.mjs';

const secret = newSecret();
let node;

before(async () => {
  node = await startChorus({
    name: 'chorus (node tests)',
    env: {
      CHORUS_AUTH__HMAC_SECRET: secret,
      CHORUS_NAMESPACES__CHAT__HISTORY_SIZE: '100',
      CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS: '600000',
      CHORUS_NAMESPACES__CHAT__PRESENCE: 'true',
      CHORUS_NAMESPACES__CHAT__JOIN_LEAVE: 'true',
    },
  });
});

after(async () => {
  if (node) await stop(node.proc);
});

function client(user, options = {}) {
  return new Client(node.ws, { token: token(secret, user), WebSocket, ...options });
}

for (const codec of ['json', 'msgpack']) {
  test(`two users talk over ${codec}: publications, presence, history, a user message`, async () => {
    const alice = client('alice', { codec });
    const bob = client('bob', { codec });
    try {
      await deadline(Promise.all([alice.connect(), bob.connect()]), 'both connect');
      assert.equal(alice.state, 'connected');
      const channel = `chat:node-${codec}`;
      const a = alice.subscribe(channel);
      await deadline(a.ready, 'alice subscribed');
      const joined = collect(a, 'join', (m) => m.info.user);
      const b = bob.subscribe(channel);
      await deadline(b.ready, 'bob subscribed');
      // Alice may also see her own join; bob's must come.
      await joined.until((user) => user === 'bob');
      const received = collect(b, 'publication');

      const result = await alice.publish(channel, { text: 'hello', n: 1 });
      assert.equal(result.position.offset, 1);
      await alice.publish(channel, new Uint8Array([0, 1, 2, 255]));
      const [first, second] = await received.until(2);
      assert.deepEqual(first.data, { text: 'hello', n: 1 });
      assert.equal(first.info.user, 'alice');
      assert.equal(first.offset, 1);
      // Bytes that are not JSON keep the protocol's JSON form.
      assert.deepEqual(second.data, { $bytes: 'AAEC/w==' });

      const members = await alice.presence(channel);
      assert.deepEqual(members.map((m) => m.user).sort(), ['alice', 'bob']);
      assert.deepEqual(await alice.presenceStats(channel), { clients: 2, users: 2 });

      const page = await bob.history(channel, { limit: 10 });
      assert.deepEqual(page.publications.map((p) => p.offset), [1, 2]);
      // Plain objects of the generated types, alike live and from history.
      assert.deepEqual(Object.keys(first).sort(), ['channel', 'data', 'epoch', 'info', 'offset']);
      assert.deepEqual(page.publications, [first, second]);
      assert.equal(Object.getPrototypeOf(first), Object.prototype);

      const messages = collect(bob, 'message');
      await alice.sendToUser('bob', { dm: 'psst' });
      const [dm] = await messages.until(1);
      assert.deepEqual(dm.data, { dm: 'psst' });
      assert.equal(dm.from.user, 'alice');

      const leaving = collect(a, 'leave', (m) => m.info.user);
      b.unsubscribe();
      await leaving.until((user) => user === 'bob');
    } finally {
      alice.close();
      bob.close();
    }
  });
}

test('a request the server refuses rejects with its typed error', async () => {
  const alice = client('alice');
  try {
    await alice.connect();
    await assert.rejects(alice.publish('chat:not-subscribed', { x: 1 }), (e) => e instanceof ChorusError && e.code === 103);
    assert.throws(() => alice.subscribe('bad channel name!'), (e) => e instanceof ChorusError && e.code === 205);
  } finally {
    alice.close();
  }
});

test('SDK-local failures carry the 2xx codes of the protocol table, exported by name', async () => {
  const alice = client('alice');
  try {
    await alice.connect();
    alice.subscribe('chat:twice');
    assert.throws(
      () => alice.subscribe('chat:twice'),
      (e) => e instanceof ChorusError && e.name === 'ChorusError' && e.code === ErrorCode.DUPLICATE_SUBSCRIPTION && e.code === 204,
    );
    // A request still in flight when the client is closed.
    const pending = alice.ping();
    alice.close();
    await assert.rejects(pending, (e) => e instanceof ChorusError && e.code === ErrorCode.CLIENT_CLOSED);
    assert.throws(() => alice.subscribe('chat:after'), (e) => e instanceof ChorusError && e.code === ErrorCode.CLIENT_CLOSED);
  } finally {
    alice.close();
  }
});

test('a forged token closes the connection for good, with the reason', async () => {
  const forged = new Client(node.ws, { token: token('not-the-secret', 'mallory'), WebSocket });
  const states = collect(forged, 'state');
  try {
    await assert.rejects(forged.connect(), (e) => e instanceof ClosedError && e.reason.code >= 4500 && e.reason.code < 5000);
    assert.equal(forged.state, 'closed');
    assert.equal(states.seen.at(-1), 'closed');
  } finally {
    forged.close();
  }
});

test('getToken supplies the token when the client has none', async () => {
  let asked = 0;
  const c = new Client(node.ws, {
    WebSocket,
    getToken: async () => {
      asked += 1;
      return token(secret, 'carol');
    },
  });
  try {
    const connected = collect(c, 'connected');
    await c.connect();
    const [result] = await connected.until(1);
    assert.equal(result.user, 'carol');
    assert.equal(asked, 1);
    // camelCase like the options; the token's expiry (an hour) is known.
    assert.deepEqual(Object.keys(result).sort(), ['client', 'expiresInMs', 'pingIntervalMs', 'user', 'version']);
    assert.ok(result.expiresInMs > 3_500_000 && result.expiresInMs <= 3_600_000, `${result.expiresInMs}`);
    assert.equal(typeof result.pingIntervalMs, 'number');
  } finally {
    c.close();
  }
});

test('a list of node URLs: a dead first node costs one attempt, then the next serves', async () => {
  // A port nothing listens on: the first URL refuses at once.
  const dead = node.ws.replace(/:(\d+)\//, ':1/');
  const alice = new Client([dead, node.ws], {
    token: token(secret, 'alice'),
    WebSocket,
    minReconnectDelayMs: 50,
  });
  const failures = collect(alice, 'error');
  try {
    assert.deepEqual(alice.urls, [dead, node.ws]);
    assert.equal(alice.url, dead);
    await deadline(alice.connect(), 'connected through the second URL');
    // The failed attempt was reported, with its cause and the retry delay.
    const [failure] = failures.seen;
    assert.equal(failures.seen.length, 1, JSON.stringify(failures.seen));
    assert.equal(failure.url, dead);
    assert.equal(failure.attempt, 1);
    assert.equal(failure.code, 1006);
    assert.equal(typeof failure.reason, 'string');
    assert.equal(typeof failure.retryInMs, 'number');
    const sub = alice.subscribe('chat:urls');
    await deadline(sub.ready, 'subscribed');
    const received = collect(sub, 'publication', (p) => p.data);
    await alice.publish('chat:urls', { n: 1 });
    assert.deepEqual(await received.until(1), [{ n: 1 }]);
  } finally {
    alice.close();
  }
  assert.throws(() => new Client([], { WebSocket }), TypeError);
});

test('failures are visible while connect() waits: a refused port, a wrong path, a silent peer', async () => {
  const refused = node.ws.replace(/:(\d+)\//, ':1/');
  const wrongPath = node.ws.replace(/\/ws$/, '/no-such-path');
  // A TCP peer that accepts and never answers: only the connect timeout ends it.
  const held = [];
  const silent = net.createServer((socket) => held.push(socket));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentUrl = `ws://127.0.0.1:${silent.address().port}/ws`;
  const urls = [refused, wrongPath, silentUrl];
  const c = new Client(urls, { WebSocket, minReconnectDelayMs: 10, maxReconnectDelayMs: 50, connectTimeoutMs: 1500 });
  const failures = collect(c, 'error');
  const states = collect(c, 'connecting');
  const disconnected = collect(c, 'disconnected');
  try {
    const connecting = c.connect();
    const seen = await failures.until(3);
    assert.deepEqual(seen.map((f) => [f.url, f.attempt]), urls.map((u, i) => [u, i + 1]));
    assert.deepEqual(seen.map((f) => f.code), [1006, 1006, 4009]); // 4009: request_timeout (close codes, protocol.md)
    assert.ok(seen.every((f) => typeof f.retryInMs === 'number'), JSON.stringify(seen));
    assert.equal(c.state, 'connecting');
    assert.deepEqual(states.seen, [undefined]);
    c.disconnect();
    await assert.rejects(deadline(connecting, 'connect() settles'), ClosedError);
    await disconnected.until(1);
  } finally {
    c.close();
    for (const socket of held) socket.destroy();
    silent.close();
  }
});

test('options that cannot work are refused when the client is created, by the shared rules', () => {
  for (const url of ['http://localhost/ws', 'localhost:8000', 'ws://']) {
    assert.throws(() => new Client(url, { WebSocket }), (e) => e instanceof TypeError && e.message.includes('ws://'), url);
  }
  assert.throws(
    () => new Client(node.ws, { WebSocket, minReconnectDelayMs: 5000, maxReconnectDelayMs: 1000 }),
    (e) => e instanceof TypeError && /minimum reconnect delay/.test(e.message),
  );
  assert.throws(() => new Client(node.ws, { WebSocket, connectTimeoutMs: 0 }), TypeError);
});
