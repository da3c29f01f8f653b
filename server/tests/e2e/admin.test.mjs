// The admin dashboard (/admin) against a live two-node cluster: a real
// nats-server with JetStream and two `chorus` processes using it. The page is
// opened on node A in headless Chromium; WebSocket clients connected from Node
// to both nodes put load on the cluster, and the test waits for the page's
// figures to move, then uses its publish and disconnect buttons.
//
// Binaries: CHORUS_BIN (default target/debug/chorus), CHORUS_NATS_SERVER
// (default target/tools/bin/nats-server, installed by scripts/setup) and
// CHROMIUM (default /usr/bin/chromium). With ADMIN_SCREENSHOT=FILE the test
// also refreshes the page every second, lets the charts fill for a while and
// saves a screenshot of the dashboard under load to FILE (this is how
// docs/admin-dashboard.png is made).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEADLINE, chorusBin, launch, launchBrowser, root, stop, waitForOutput } from './processes.mjs';
import WebSocket from 'ws';

const natsBin = process.env.CHORUS_NATS_SERVER || path.join(root, 'target/tools/bin/nats-server');
const screenshot = process.env.ADMIN_SCREENSHOT ? path.resolve(process.env.ADMIN_SCREENSHOT) : null;

// Prefixed with letters, so that the CHORUS_* variables read them as strings.
const API_KEY = 'admin-e2e-key-' + randomBytes(12).toString('hex');
const HMAC_SECRET = 'admin-e2e-secret-' + randomBytes(24).toString('hex');

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** A nats-server with JetStream on a free loopback port. */
async function startNats(dir) {
  const proc = launch('nats-server', natsBin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', path.join(dir, 'jetstream')], { cwd: dir });
  const [, port] = await waitForOutput(proc, /Listening for client connections on 127\.0\.0\.1:(\d+)/);
  await waitForOutput(proc, /Server is ready/);
  return { proc, url: `nats://127.0.0.1:${port}` };
}

/** A `chorus` node of the cluster on a free port, with the dashboard on. */
async function startChorus(name, natsUrl, dir) {
  const env = {
    ...process.env,
    NO_COLOR: '1',
    CHORUS_LOG: 'info',
    CHORUS_API_KEY: API_KEY,
    CHORUS_ADMIN: 'true',
    CHORUS_AUTH__HMAC_SECRET: HMAC_SECRET,
    CHORUS_NAMESPACES__CHAT__PRESENCE: 'true',
    CHORUS_CLUSTER__STORAGE: 'memory',
    // Registry entries refresh every third of this: other nodes' figures move sooner.
    CHORUS_CLUSTER__NODE_TTL_MS: '3000',
    CHORUS_LIMITS__SHUTDOWN_TIMEOUT_MS: '2000',
  };
  const proc = launch(name, chorusBin, ['--listen', '127.0.0.1:0', '--nats', natsUrl], { cwd: dir, env });
  const [, addr] = await waitForOutput(proc, /WebSocket at ws:\/\/([0-9.]+:\d+)\//);
  const base = `http://${addr}`;
  const info = await apiGet(base, 'info');
  return { proc, base, id: info.node };
}

async function apiGet(base, route) {
  const res = await fetch(`${base}/api/${route}`, { headers: { Authorization: `apikey ${API_KEY}` } });
  assert.equal(res.status, 200, `GET /api/${route}`);
  return res.json();
}

// ---------------------------------------------------------------------------
// WebSocket clients (the JSON protocol of docs/protocol.md)
// ---------------------------------------------------------------------------

/** An HS256 token for `sub`, valid for an hour. */
function token(sub) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  const signature = createHmac('sha256', HMAC_SECRET).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

function deadline(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${DEADLINE} ms: ${what}`)), DEADLINE);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Client {
  /** Opens a connection to the node at `base` and connects as `user`. */
  static async open(base, user) {
    const ws = new WebSocket(`${base.replace('http:', 'ws:')}/ws`, 'chorus.v1.json');
    const client = new Client(ws, user);
    await deadline(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }), `${user}: WebSocket open`);
    await client.request('connect', { token: token(user), name: 'admin-e2e', version: '1' });
    return client;
  }

  constructor(ws, user) {
    this.ws = ws;
    this.user = user;
    this.nextId = 1;
    this.pending = new Map();
    this.publications = [];
    this.watchers = new Set();
    this.errors = 0;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => this.onFrame(JSON.parse(data.toString())));
    ws.on('error', () => {}); // reported through `closed`
  }

  onFrame(frame) {
    if (frame.id !== undefined) {
      const waiter = this.pending.get(frame.id);
      if (!waiter) return;
      this.pending.delete(frame.id);
      if (frame.error) waiter.reject(new Error(`${this.user}: error ${frame.error.code} ${frame.error.message}`));
      else waiter.resolve(frame);
    } else if (frame.ping) {
      this.ws.send('{"pong":{}}');
    } else if (frame.publication) {
      this.publications.push(frame.publication);
      for (const watch of this.watchers) watch(frame.publication);
    }
  }

  /** Sends a command; resolves with its reply (rejects on an error reply). */
  request(op, body) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, [op]: body }));
    return deadline(new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })), `${this.user}: ${op} reply`);
  }

  /** Sends a command without waiting for the reply (load). */
  send(op, body) {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const id = this.nextId++;
    this.pending.set(id, { resolve() {}, reject: () => this.errors++ });
    this.ws.send(JSON.stringify({ id, [op]: body }));
  }

  /** Resolves with the first publication (received or to come) matching `test`. */
  publication(test, what) {
    const seen = this.publications.find(test);
    if (seen) return Promise.resolve(seen);
    let watch;
    const arrived = new Promise((resolve) => {
      watch = (p) => test(p) && resolve(p);
      this.watchers.add(watch);
    });
    return deadline(arrived, what).finally(() => this.watchers.delete(watch));
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

/** Waits until the number shown by a tile (its data-value) is at least `min`
 *  (or greater than `min` with `strict`). */
function tileAtLeast(page, id, min, strict = false) {
  return page.waitForFunction(
    ({ id, min, strict }) => {
      const raw = document.getElementById(id).dataset.value;
      if (raw === '') return false;
      const v = Number(raw);
      return strict ? v > min : v >= min;
    },
    { id, min, strict },
    { timeout: DEADLINE, polling: 200 },
  );
}

test('the admin dashboard shows a live two-node cluster, and publishes and disconnects from it', async (t) => {
  for (const [bin, hint] of [[chorusBin, 'cargo build -p chorus-server'], [natsBin, './scripts/setup']]) {
    assert.ok(existsSync(bin), `${bin} is missing: run ${hint}`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chorus-admin-e2e-'));
  const procs = [];
  const clients = [];
  const pageErrors = [];
  let browser = null;
  let load = null;
  try {
    const nats = await startNats(dir);
    procs.push(nats.proc);
    const a = await startChorus('chorus A', nats.url, dir);
    procs.push(a.proc);
    const b = await startChorus('chorus B', nats.url, dir);
    procs.push(b.proc);

    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (dialog) => dialog.accept()); // the confirmations of the disconnect buttons

    // Sign in: a wrong key is refused, the right one opens the dashboard.
    await page.goto(`${a.base}/admin`);
    await page.waitForSelector('#signin:not([hidden])');
    await page.fill('#key', 'not-the-api-key-0123456789');
    await page.click('#signin-button');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent.includes('refused'), null, { timeout: DEADLINE });
    await page.fill('#key', API_KEY);
    await page.click('#signin-button');
    await page.waitForSelector('#dashboard:not([hidden])', { timeout: DEADLINE });
    if (screenshot) await page.selectOption('#interval', '1000');
    await page.waitForFunction((id) => document.getElementById('info-node').textContent === id, a.id, { timeout: DEADLINE });

    // Both nodes are listed, node A as this node.
    await page.waitForSelector(`#nodes tr.self[data-node="${a.id}"]`, { timeout: DEADLINE });
    await page.waitForSelector(`#nodes tr[data-node="${b.id}"]`, { timeout: DEADLINE });
    await tileAtLeast(page, 'stat-connections', 0);
    const connectionsBefore = Number(await page.getAttribute('#stat-connections', 'data-value'));

    // Load: three clients on each node in one channel, each publishing ten
    // times a second, and one publishing to a namespace that does not exist
    // (error 102 `unknown_channel`) once a second. Bounded: at most 2 minutes.
    for (const [node, prefix] of [[a, 'load-a'], [b, 'load-b']]) {
      for (let i = 0; i < 3; i++) {
        const c = await Client.open(node.base, `${prefix}${i}`);
        clients.push(c);
        await c.request('subscribe', { channel: 'chat:load' });
      }
    }
    const loadUntil = Date.now() + 120000;
    let ticks = 0;
    load = setInterval(() => {
      if (Date.now() > loadUntil) return clearInterval(load);
      ticks++;
      for (const c of clients.slice(0, 6)) c.send('publish', { channel: 'chat:load', data: { n: ticks, from: c.user } });
      if (ticks % 10 === 0) clients[0].send('publish', { channel: 'nope:x', data: {} });
    }, 100);

    // The figures move: this node's from /metrics, node B's from the registry.
    await tileAtLeast(page, 'stat-connections', connectionsBefore + 3);
    await tileAtLeast(page, 'stat-subscriptions', 3);
    await tileAtLeast(page, 'stat-in-rate', 0, true);
    await tileAtLeast(page, 'stat-out-rate', 0, true);
    await tileAtLeast(page, 'stat-p50', 0, true);
    await tileAtLeast(page, 'stat-error-rate', 0, true);
    await page.waitForSelector('#codes tr[data-kind="error"][data-code="unknown_channel"]', { timeout: DEADLINE });
    await page.waitForFunction(
      (id) => Number(document.querySelector(`#nodes tr[data-node="${id}"] td.connections`)?.textContent) >= 3,
      b.id,
      { timeout: DEADLINE, polling: 200 },
    );
    await page.waitForFunction(() => document.querySelector('#nodes tfoot td.num')?.textContent === '6', null, { timeout: DEADLINE, polling: 200 });
    // The messages chart's legend shows the latest rate.
    await page.waitForFunction(
      () => Number(document.querySelector('#legend-messages li[data-series="in"] b')?.textContent.replace(/,/g, '')) > 0,
      null,
      { timeout: DEADLINE, polling: 200 },
    );

    // Channels with member counts; presence across both nodes.
    await page.waitForFunction(() => document.querySelector('#channels tr[data-channel="chat:load"] td.members')?.textContent === '3', null, {
      timeout: DEADLINE,
      polling: 200,
    });
    await page.click('#channels tr[data-channel="chat:load"] button');
    await page.waitForFunction(() => document.querySelectorAll('#presence tbody tr[data-client]').length === 6, null, { timeout: DEADLINE, polling: 200 });
    const users = await page.$$eval('#presence tbody tr[data-client]', (rows) => rows.map((r) => r.dataset.user).sort());
    assert.deepEqual(users, ['load-a0', 'load-a1', 'load-a2', 'load-b0', 'load-b1', 'load-b2']);

    // The publish button: a client on the other node receives the publication.
    const watcher = await Client.open(b.base, 'watcher');
    clients.push(watcher);
    await watcher.request('subscribe', { channel: 'chat:news' });
    const delivered = watcher.publication((p) => p.channel === 'chat:news' && p.data?.text === 'hello from the dashboard', 'the dashboard publication on node B');
    await page.fill('#publish-channel', 'chat:news');
    await page.fill('#publish-data', '{"text":"hello from the dashboard","n":1}');
    await page.click('#publish-button');
    const publication = await delivered;
    assert.deepEqual(publication.data, { text: 'hello from the dashboard', n: 1 });
    assert.equal(publication.info, undefined, 'published by the server, not a client');
    await page.waitForFunction(() => document.getElementById('publish-result').textContent.startsWith('Published to chat:news'), null, { timeout: DEADLINE });

    // The disconnect button: a user on the other node is closed with 4506.
    const victim = await Client.open(b.base, 'victim');
    clients.push(victim);
    await page.fill('#disconnect-user', 'victim');
    await page.click('#disconnect-button');
    const closed = await deadline(victim.closed, 'the disconnected client closed');
    assert.equal(closed.code, 4506, `close code (reason ${closed.reason})`);
    assert.equal(closed.reason, 'disconnected from the admin dashboard');
    await page.waitForFunction(() => document.getElementById('disconnect-result').className === 'ok', null, { timeout: DEADLINE });
    assert.equal(watcher.ws.readyState, WebSocket.OPEN, 'other users stay connected');

    if (screenshot) {
      // Not synchronisation: charts need some history to be worth a picture.
      await page.waitForTimeout(40000);
      await page.waitForFunction(() => document.querySelectorAll('#presence tbody tr[data-client]').length === 6, null, { timeout: DEADLINE });
      await page.screenshot({ path: screenshot, fullPage: true });
      t.diagnostic(`screenshot saved to ${screenshot}`);
    }
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } catch (e) {
    for (const proc of procs) t.diagnostic(`--- ${proc.name} output ---\n${proc.output.slice(-4000)}`);
    throw e;
  } finally {
    clearInterval(load);
    for (const c of clients) c.close();
    if (browser) await browser.close();
    for (const proc of procs.reverse()) await stop(proc);
    rmSync(dir, { recursive: true, force: true });
  }
});
