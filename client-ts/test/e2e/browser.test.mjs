// @chorus/client in real headless Chromium (playwright-core driving Debian's
// /usr/bin/chromium, CHROMIUM to override) against live `chorus` processes:
// two pages chat, presence, a terminal close code, a server restarted
// mid-stream (reconnect and recovery: no gap, no duplicate), failover between
// two nodes of a NATS cluster behind a balancer, and a thousand reconnects
// without memory growth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  DEADLINE, deadline, kill, makeCertificates, newSecret, startBalancer, startChorus, startNats, stop, tempDir, token,
} from '../support.mjs';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const secret = newSecret();
const apiKey = 'test-api-key-' + Math.random().toString(36).slice(2);
let browser;
let site;

/** Serves the built package (dist/, wasm/) and the test page, as an application's server would. */
function serve() {
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.map': 'application/json' };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = url.pathname === '/' ? 'test/e2e/page.html' : url.pathname.slice(1);
    if (!/^(dist|wasm)\/[\w.-]+$|^test\/e2e\/page\.html$/.test(file)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(path.join(pkg, file));
      res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  site = await serve();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--enable-precise-memory-info', '--js-flags=--expose-gc',
    ],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
});

const origin = () => `http://127.0.0.1:${site.address().port}`;

/** Settings of every node: auth, an API key, a `chat` namespace with history and presence, the page's origin. */
function nodeEnv() {
  return {
    CHORUS_AUTH__HMAC_SECRET: secret,
    CHORUS_API_KEY: apiKey,
    CHORUS_ALLOWED_ORIGINS: origin(),
    CHORUS_NAMESPACES__CHAT__HISTORY_SIZE: '1000',
    CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS: '600000',
    CHORUS_NAMESPACES__CHAT__PRESENCE: 'true',
    CHORUS_NAMESPACES__CHAT__JOIN_LEAVE: 'true',
    CHORUS_CLUSTER__STORAGE: 'memory',
  };
}

async function openPage(contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin()}/`);
  await page.waitForFunction(() => window.sdkLoaded === true, null, { timeout: DEADLINE });
  page.errors = errors;
  return page;
}

/** A probe in `page` (see page.html): a client with its events recorded. */
function probe(page, name, url, options, channel) {
  return page.evaluate(([n, u, o, c]) => window.makeProbe(n, u, o, c), [name, url, options, channel]);
}

/** Waits until `fn(probe)` is truthy in the page; returns its value. */
async function until(page, name, fn, what) {
  try {
    const handle = await page.waitForFunction(([n, src]) => new Function('p', `return (${src})(p)`)(window.probes[n]), [name, fn.toString()], {
      timeout: DEADLINE,
      polling: 50,
    });
    return handle.jsonValue();
  } catch (e) {
    const seen = await page.evaluate((n) => {
      const p = window.probes[n];
      return JSON.stringify({ states: p.states, subscribed: p.subscribed, pubs: p.publications.length, errors: p.errors });
    }, name);
    throw new Error(`${name}: ${what}: ${e.message}\nprobe: ${seen}`);
  }
}

async function apiPublish(base, channel, data) {
  const res = await fetch(`${base}/api/publish`, {
    method: 'POST',
    headers: { Authorization: `apikey ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  assert.equal(res.status, 200, `publish: ${await res.text()}`);
}

/** Publishes {n} for n in [from, to] through `base`'s server API, in order. */
async function publishRange(base, channel, from, to) {
  for (let n = from; n <= to; n++) await apiPublish(base, channel, { n });
}

/** Asserts the probe saw exactly {n: 1..count}, at offsets 1..count: no gap, no duplicate. */
async function assertComplete(page, name, count) {
  const pubs = await page.evaluate((n) => window.probes[n].publications, name);
  assert.deepEqual(pubs.map((p) => p.data.n), Array.from({ length: count }, (_, i) => i + 1));
  assert.deepEqual(pubs.map((p) => p.offset), Array.from({ length: count }, (_, i) => i + 1));
}

test('two pages chat (one in JSON, one in MessagePack), with presence and a user message', async () => {
  const node = await startChorus({ name: 'chorus (chat)', env: nodeEnv() });
  const [a, b] = [await openPage(), await openPage()];
  try {
    await probe(a, 'alice', node.ws, { token: token(secret, 'alice') }, 'chat:room');
    await probe(b, 'bob', node.ws, { token: token(secret, 'bob'), codec: 'msgpack' }, 'chat:room');
    await a.evaluate(() => window.probes.alice.client.connect());
    await b.evaluate(() => window.probes.bob.client.connect());
    await a.evaluate(() => window.probes.alice.sub.ready);
    await b.evaluate(() => window.probes.bob.sub.ready);

    await a.evaluate(() => window.probes.alice.client.publish('chat:room', { text: 'hello from A' }));
    await until(b, 'bob', (p) => p.publications.some((x) => x.data.text === 'hello from A' && x.user === 'alice'), 'A reaches B');
    await b.evaluate(() => window.probes.bob.client.publish('chat:room', { text: 'hi back from B' }));
    await until(a, 'alice', (p) => p.publications.some((x) => x.data.text === 'hi back from B' && x.user === 'bob'), 'B reaches A');

    const members = await a.evaluate(async () => (await window.probes.alice.client.presence('chat:room')).map((m) => m.user).sort());
    assert.deepEqual(members, ['alice', 'bob']);
    const stats = await b.evaluate(() => window.probes.bob.client.presenceStats('chat:room'));
    assert.deepEqual(stats, { clients: 2, users: 2 });

    await b.evaluate(() => window.probes.bob.client.sendToUser('alice', { dm: 'psst' }));
    await until(a, 'alice', (p) => p.messages.some((m) => m.dm === 'psst'), 'the user message');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.context().close();
    await b.context().close();
    await stop(node.proc);
  }
});

test('a terminal close code stops the client and tells why', async () => {
  const node = await startChorus({ name: 'chorus (terminal)', env: nodeEnv() });
  const page = await openPage();
  try {
    await probe(page, 'mallory', node.ws, { token: token('not-the-secret', 'mallory'), minReconnectDelayMs: 10, maxReconnectDelayMs: 20 });
    const outcome = await page.evaluate(async () => {
      const { client } = window.probes.mallory;
      try {
        await client.connect();
        return { connected: true };
      } catch (e) {
        return { name: e.name, code: e.reason?.code, reasonName: e.reason?.name, state: client.state };
      }
    });
    assert.equal(outcome.name, 'ClosedError');
    assert.equal(outcome.state, 'closed');
    assert.ok(outcome.code >= 4500 && outcome.code < 5000, `terminal code, got ${outcome.code}`);
    const states = await page.evaluate(() => window.probes.mallory.states);
    assert.deepEqual(states, ['connecting', `closed:${outcome.code}`]);
  } finally {
    await page.context().close();
    await stop(node.proc);
  }
});

test('a wrong URL is reported while connect() waits: each failed attempt is an error event', async () => {
  const node = await startChorus({ name: 'chorus (wrong urls)', env: nodeEnv() });
  const page = await openPage();
  try {
    const wrongPath = node.ws.replace(/\/ws$/, '/no-such-path');
    const deadPort = node.ws.replace(/:(\d+)\//, ':1/');
    await probe(page, 'lost', [wrongPath, deadPort], { minReconnectDelayMs: 10, maxReconnectDelayMs: 50 });
    await page.evaluate(() => {
      window.probes.lost.connecting = window.probes.lost.client.connect().catch((e) => e.name);
    });
    const failures = await until(page, 'lost', (p) => p.failures.length >= 4 && p.failures, 'four failed attempts');
    assert.deepEqual(
      failures.slice(0, 4).map((f) => [f.url, f.attempt, f.code]),
      [[wrongPath, 1, 1006], [deadPort, 2, 1006], [wrongPath, 3, 1006], [deadPort, 4, 1006]],
    );
    assert.ok(failures.every((f) => f.reason === 'could not open the connection' && typeof f.retryInMs === 'number'), JSON.stringify(failures));
    const outcome = await page.evaluate(async () => {
      const p = window.probes.lost;
      const state = p.client.state;
      p.client.disconnect();
      return { state, settled: await p.connecting };
    });
    assert.deepEqual(outcome, { state: 'connecting', settled: 'ClosedError' });
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
    await stop(node.proc);
  }
});

/** NATS with JetStream and `count` nodes on it; `close()` stops them all. */
async function cluster(count) {
  const tmp = tempDir('chorus-sdk-e2e-');
  const nats = await startNats(tmp.dir);
  const nodes = [];
  for (let i = 0; i < count; i++) {
    nodes.push(await startChorus({ name: `chorus ${'ABC'[i]}`, nats: nats.url, env: nodeEnv(), cwd: tmp.dir }));
  }
  return {
    nats,
    nodes,
    async close() {
      for (const n of nodes) await stop(n.proc);
      await stop(nats.proc);
      tmp.remove();
    },
  };
}

test('the server restarted mid-stream: the page reconnects and recovers, with no gap and no duplicate', async () => {
  const c = await cluster(2);
  const [a, b] = c.nodes;
  const page = await openPage();
  try {
    await probe(page, 'reader', a.ws, { token: token(secret, 'reader'), minReconnectDelayMs: 100, maxReconnectDelayMs: 500 }, 'chat:stream');
    await page.evaluate(() => window.probes.reader.client.connect());
    await page.evaluate(() => window.probes.reader.sub.ready);
    await publishRange(b.base, 'chat:stream', 1, 40);
    await until(page, 'reader', (p) => p.publications.length >= 40, 'the first 40 live');

    await kill(a.proc);
    await until(page, 'reader', (p) => p.states.at(-1)?.startsWith('connecting'), 'the loss noticed');
    await publishRange(b.base, 'chat:stream', 41, 80);
    const restarted = await startChorus({ name: 'chorus A (restarted)', listen: a.addr, nats: c.nats.url, env: nodeEnv() });
    c.nodes[0] = restarted;
    await until(page, 'reader', (p) => p.connected >= 2, 'reconnected');
    await publishRange(b.base, 'chat:stream', 81, 120);

    await until(page, 'reader', (p) => p.publications.length >= 120, 'all 120');
    await assertComplete(page, 'reader', 120);
    const subscribed = await page.evaluate(() => window.probes.reader.subscribed);
    assert.deepEqual(subscribed, ['fresh', 'recovered']);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
    await c.close();
  }
});

test('failover: with a node of a two-node cluster killed, the page moves to the other through the balancer and recovers', async () => {
  const c = await cluster(2);
  const [a, b] = c.nodes;
  const balancer = await startBalancer([a.addr, b.addr]);
  const page = await openPage();
  try {
    const url = `ws://${balancer.addr}/ws`;
    await probe(page, 'reader', url, { token: token(secret, 'reader'), minReconnectDelayMs: 100, maxReconnectDelayMs: 500 }, 'chat:failover');
    await page.evaluate(() => window.probes.reader.client.connect());
    await page.evaluate(() => window.probes.reader.sub.ready);
    await publishRange(b.base, 'chat:failover', 1, 30);
    await until(page, 'reader', (p) => p.publications.length >= 30, 'the first 30 through node A');

    await kill(a.proc);
    await publishRange(b.base, 'chat:failover', 31, 60);
    await until(page, 'reader', (p) => p.connected >= 2, 'reconnected to node B');
    await publishRange(b.base, 'chat:failover', 61, 90);

    await until(page, 'reader', (p) => p.publications.length >= 90, 'all 90');
    await assertComplete(page, 'reader', 90);
    const subscribed = await page.evaluate(() => window.probes.reader.subscribed);
    assert.deepEqual(subscribed, ['fresh', 'recovered']);
  } finally {
    await page.context().close();
    await balancer.close();
    await c.close();
  }
});

test('a thousand reconnects leave the JS heap and the wasm memory where they were', async () => {
  const node = await startChorus({ name: 'chorus (memory)', env: nodeEnv() });
  const page = await openPage();
  try {
    const figures = await page.evaluate(
      async ([url, tok]) => {
        const client = new window.chorus.Client(url, { token: tok, minReconnectDelayMs: 1, maxReconnectDelayMs: 10 });
        const sub = client.subscribe('chat:memory');
        const cycles = async (n) => {
          for (let i = 0; i < n; i++) {
            await client.connect();
            client.disconnect();
          }
        };
        const measure = async () => {
          for (let i = 0; i < 3; i++) {
            window.gc();
            await new Promise((r) => setTimeout(r, 0));
          }
          return { heap: performance.memory.usedJSHeapSize, wasm: await window.wasmMemoryBytes() };
        };
        await cycles(100); // warm up: caches, the allocator's first pages, JIT
        const start = await measure();
        await cycles(1000);
        const end = await measure();
        await client.connect();
        await sub.ready;
        const state = client.state;
        client.close();
        return { start, end, state };
      },
      [node.ws, token(secret, 'cycler')],
    );
    console.log(`# 1000 reconnects: JS heap ${figures.start.heap} -> ${figures.end.heap} bytes, wasm memory ${figures.start.wasm} -> ${figures.end.wasm} bytes`);
    assert.equal(figures.state, 'connected');
    assert.ok(figures.end.wasm - figures.start.wasm <= 64 * 1024, `wasm memory grew by ${figures.end.wasm - figures.start.wasm} bytes`);
    assert.ok(figures.end.heap - figures.start.heap < 512 * 1024, `JS heap grew by ${figures.end.heap - figures.start.heap} bytes`);
  } finally {
    await page.context().close();
    await stop(node.proc);
  }
});

test('a page talks to a node over wss:// (the node serves TLS itself)', async () => {
  const certs = await makeCertificates();
  const node = await startChorus({ name: 'chorus (tls)', env: nodeEnv(), tls: certs.dir });
  // The CA is made for this run: the browser is told to accept it, as it
  // would trust a real certificate.
  const page = await openPage({ ignoreHTTPSErrors: true });
  try {
    assert.match(node.ws, /^wss:\/\/localhost:/);
    await probe(page, 'tls', node.ws, { token: token(secret, 'alice') }, 'chat:tls');
    await deadline(page.evaluate(() => window.probes.tls.client.connect()), 'connected over wss');
    await deadline(page.evaluate(() => window.probes.tls.sub.ready), 'subscribed over wss');
    await deadline(page.evaluate(() => window.probes.tls.client.publish('chat:tls', { n: 1 })), 'published over wss');
    await until(page, 'tls', (p) => p.publications.length === 1, 'the publication over wss');
    await assertComplete(page, 'tls', 1);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
    await stop(node.proc);
    certs.remove();
  }
});
