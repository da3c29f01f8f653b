// `./scripts/cluster`, as docs/cluster.md and docs/development.md run it: three
// nats-servers as one JetStream cluster and three development nodes on it. The
// demo page of the first node and of the third chat with each other and count
// each other in presence; Ctrl-C stops everything. `--nats-only` starts just
// the routed NATS cluster. The script's ports move to random ones here
// (CHORUS_CLUSTER_*), and it runs the tests' `chorus` build (CHORUS_BIN).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { DEADLINE, chorusBin, launch, launchBrowser, root, stop, waitForOutput } from './processes.mjs';

const wait = { timeout: DEADLINE };

/** Runs the script with `args` on random ports; resolves with `{ proc, nats, node }` once it is up. */
async function startCluster(args) {
  for (let attempt = 1; ; attempt++) {
    const nats = 20000 + Math.floor(Math.random() * 1500) * 10; // clients; routes +2000, monitoring +4000
    const node = 40000 + Math.floor(Math.random() * 2000) * 10;
    const env = { ...process.env, CHORUS_BIN: chorusBin, CHORUS_CLUSTER_NATS_PORT: String(nats), CHORUS_CLUSTER_PORT: String(node) };
    delete env.CHORUS_API_KEY;
    delete env.CHORUS_AUTH__HMAC_SECRET;
    const proc = launch('scripts/cluster', path.join(root, 'scripts/cluster'), args, { cwd: root, env });
    try {
      await waitForOutput(proc, /Press Ctrl-C to stop everything/);
      return { proc, nats, node };
    } catch (e) {
      // Another program may hold one of the random ports: try others.
      if (attempt < 3 && /already in use/.test(proc.output)) continue;
      throw e;
    }
  }
}

/** Ctrl-C: the script stops its processes and exits with 130. */
async function interrupt(proc) {
  proc.child.kill('SIGINT');
  const timer = setTimeout(() => stop(proc), DEADLINE);
  const code = await proc.exit;
  clearTimeout(timer);
  assert.equal(code, 130, proc.output);
  assert.match(proc.output, /cluster: stopped/);
}

test('three nodes over a NATS cluster: pages on different nodes chat, Ctrl-C stops all', async () => {
  const { proc, node } = await startCluster([]);
  let browser;
  try {
    const [, key] = proc.output.match(/API key: +(\S+)/);
    // The node registry lists all three (each node registers as it starts).
    const listed = async () => {
      const answer = await fetch(`http://127.0.0.1:${node}/api/nodes`, { headers: { authorization: `apikey ${key}` } });
      assert.equal(answer.status, 200);
      return (await answer.json()).nodes.length;
    };
    const until = Date.now() + DEADLINE;
    let count = await listed();
    while (count < 3 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      count = await listed();
    }
    assert.equal(count, 3);

    browser = await launchBrowser();
    const first = await (await browser.newContext()).newPage();
    const third = await (await browser.newContext()).newPage();
    await first.goto(`http://127.0.0.1:${node}/`);
    await third.goto(`http://127.0.0.1:${node + 2}/`);
    await first.waitForSelector('#state.connected', wait);
    await third.waitForSelector('#state.connected', wait);
    const says = (page, text) => page.waitForFunction((t) => document.getElementById('log').textContent.includes(t), text, wait);
    await first.fill('input[name=text]', 'from the first node');
    await first.click('button');
    await says(third, 'from the first node');
    await third.fill('input[name=text]', 'from the third node');
    await third.click('button');
    await says(first, 'from the third node');
    await first.waitForFunction(() => document.getElementById('members').textContent === '2', null, wait);
  } finally {
    await browser?.close();
    await interrupt(proc);
  }
});

test('--nats-only: three routed nats-servers, stopped by Ctrl-C', async () => {
  const { proc, nats } = await startCluster(['--nats-only']);
  try {
    assert.doesNotMatch(proc.output, /Chorus nodes/);
    for (let i = 0; i < 3; i++) {
      const health = await fetch(`http://127.0.0.1:${nats + 4000 + i}/healthz`);
      assert.equal(health.status, 200, `nats-server ${i}`);
    }
    const routes = await (await fetch(`http://127.0.0.1:${nats + 4000}/routez`)).json();
    const peers = new Set(routes.routes.map((r) => r.remote_name));
    assert.equal(peers.size, 2, JSON.stringify(routes.routes));
  } finally {
    await interrupt(proc);
  }
});
