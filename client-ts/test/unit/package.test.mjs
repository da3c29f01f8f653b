// What the README promises: `npm pack` makes a tarball that a fresh app
// installs with `npm install ./chorus-client-<version>.tgz` and then uses,
// importing `@chorus/client` by name, against a live server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { newSecret, root, startChorus, stop, tempDir, token } from '../support.mjs';

const run = promisify(execFile);
const packageDir = path.join(root, 'client-ts');
const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
const secret = newSecret();
let node;
let work;

before(async () => {
  work = tempDir('chorus-package-');
  node = await startChorus({
    name: 'chorus (package test)',
    env: { CHORUS_AUTH__HMAC_SECRET: secret, CHORUS_NAMESPACES__CHAT__HISTORY_SIZE: '10', CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS: '600000' },
  });
});

after(async () => {
  if (node) await stop(node.proc);
  work?.remove();
});

test('the packed tarball installs into a fresh app, which connects, subscribes and publishes', async () => {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work.dir], { cwd: packageDir });
  const [{ filename, files }] = JSON.parse(stdout);
  assert.equal(filename, `chorus-client-${version}.tgz`);
  const shipped = files.map((f) => f.path).sort();
  for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/manual.js', 'wasm/chorus_wasm.js', 'wasm/chorus_wasm_bg.wasm', 'package.json']) {
    assert.ok(shipped.includes(needed), `${needed} is in the tarball: ${shipped.join(', ')}`);
  }
  assert.ok(!shipped.some((f) => f.startsWith('test/') || f.startsWith('src/')), 'tests and sources stay out');
  // The types show the public API only (members marked @internal are stripped).
  assert.doesNotMatch(readFileSync(path.join(packageDir, 'dist', 'subscription.d.ts'), 'utf8'), /handle\(|@internal/);
  // The shipped README stands alone: no links into the repository around it.
  assert.ok(shipped.includes('README.md'));
  assert.doesNotMatch(readFileSync(path.join(packageDir, 'README.md'), 'utf8'), /\]\(\.\.\//);

  const app = path.join(work.dir, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
  // The package has no dependencies, so the install needs no registry.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', `../${filename}`], { cwd: app });
  assert.deepEqual(readdirSync(path.join(app, 'node_modules', '@chorus')), ['client']);

  // Node.js 20 has no global WebSocket: the app brings the ws package (here, the repository's copy).
  const ws = pathToFileURL(createRequire(path.join(packageDir, 'package.json')).resolve('ws')).href;
  writeFileSync(
    path.join(app, 'main.mjs'),
    `import { Client } from '@chorus/client';
import WebSocket from ${JSON.stringify(ws)};
const [url, token] = process.argv.slice(2);
const client = new Client(url, { token, WebSocket, codec: 'msgpack' });
await client.connect();
const sub = client.subscribe('chat:fresh-app');
const got = new Promise((resolve) => sub.on('publication', (p) => resolve(p.data)));
await sub.ready;
await client.publish('chat:fresh-app', { text: 'hello from a fresh app' });
console.log(JSON.stringify(await got));
client.close();
`,
  );
  const out = await run(process.execPath, ['main.mjs', node.ws, token(secret, 'fresh')], { cwd: app, timeout: 60000 });
  assert.deepEqual(JSON.parse(out.stdout.trim()), { text: 'hello from a fresh app' });

  // CommonJS: `require` of the entry without top-level await, then init().
  writeFileSync(
    path.join(app, 'main.cjs'),
    `const { readFileSync } = require('node:fs');
const { init, Client, ErrorCode } = require('@chorus/client/manual');
const WebSocket = require(${JSON.stringify(createRequire(path.join(packageDir, 'package.json')).resolve('ws'))});
const [url, token] = process.argv.slice(2);
(async () => {
  // A failed load can be retried (bytes that are no WebAssembly module first).
  const failed = await init(new Uint8Array([0, 1, 2, 3])).then(() => false, () => true);
  if (!failed) throw new Error('init accepted bytes that are no module');
  await init(readFileSync(require.resolve('@chorus/client/chorus_wasm_bg.wasm')));
  const client = new Client(url, { token, WebSocket });
  await client.connect();
  const sub = client.subscribe('chat:fresh-cjs');
  const got = new Promise((resolve) => sub.on('publication', (p) => resolve(p.data)));
  await sub.ready;
  await client.publish('chat:fresh-cjs', { text: 'hello from CommonJS', code: ErrorCode.CLIENT_CLOSED });
  console.log(JSON.stringify(await got));
  client.close();
})().catch((e) => { console.error(e); process.exit(1); });
`,
  );
  const cjs = await run(process.execPath, ['main.cjs', node.ws, token(secret, 'fresh')], { cwd: app, timeout: 60000 });
  assert.deepEqual(JSON.parse(cjs.stdout.trim()), { text: 'hello from CommonJS', code: 202 });
});
