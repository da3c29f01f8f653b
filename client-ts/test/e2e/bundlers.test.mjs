// The packed @chorus/client in a small app built for production by each
// mainstream bundler (Vite, webpack, Rollup, esbuild, from test/bundlers/),
// served as a static site and run in headless Chromium against a live node:
// the .wasm is emitted and fetched, the app connects, subscribes, publishes and
// receives, and no Node.js-only code reaches the bundle. And a React app on
// the hooks docs/browser.md shows, in a development build under StrictMode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { DEADLINE, newSecret, startChorus, stop, tempDir, token } from '../support.mjs';

const run = promisify(execFile);
const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tools = path.join(pkg, 'test', 'bundlers');
const secret = newSecret();
const apiKey = `bundler-test-key-${newSecret()}`;
let work;
let site;
let node;
let browser;

/** The app's build with each bundler: its command (in node_modules/.bin) and the page's script. */
const bundlers = {
  vite: { args: ['vite', 'build', '--outDir', 'out/vite', '--emptyOutDir', '--base', './', '--logLevel', 'warn'] },
  // The React app (app/react/) in a development build: StrictMode's double mount is on.
  react: {
    args: ['vite', 'build', 'react', '--outDir', '../out/react', '--emptyOutDir', '--base', './', '--logLevel', 'warn'],
    env: { NODE_ENV: 'development' },
  },
  webpack: { args: ['webpack', '--config', 'webpack.config.mjs'], page: 'main.js' },
  rollup: { args: ['rollup', '--config', 'rollup.config.mjs', '--silent'], page: 'main.js' },
  esbuild: {
    args: [
      'esbuild', 'main-manual.js', '--bundle', '--format=esm', '--platform=browser', '--minify',
      '--loader:.wasm=file', '--entry-names=main', '--outdir=out/esbuild', '--log-level=warning',
    ],
    page: 'main.js',
  },
};

const configs = {
  'webpack.config.mjs': `import path from 'node:path';
export default {
  mode: 'production',
  entry: './main.js',
  output: { path: path.resolve('out/webpack'), filename: 'main.js', publicPath: './' },
};
`,
  'rollup.config.mjs': `import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';
export default {
  input: 'main.js',
  output: { dir: 'out/rollup', format: 'es' },
  plugins: [nodeResolve({ browser: true }), importMetaAssets()],
};
`,
};

/** Every file under `dir`, relative to it. */
function files(dir, prefix = '') {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)],
  );
}

/** Serves `root` as a static site, with the WebAssembly MIME type browsers want. */
function serve(root) {
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = http.createServer(async (req, res) => {
    const file = path.join(root, path.normalize(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  work = tempDir('chorus-bundlers-');
  const app = work.dir;
  // The package as `npm pack` ships it, installed where the app resolves it;
  // the bundlers come from test/bundlers/node_modules.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', app], { cwd: pkg });
  const [{ filename }] = JSON.parse(stdout);
  const modules = path.join(app, 'node_modules');
  mkdirSync(path.join(modules, '@chorus'), { recursive: true });
  await run('tar', ['-xzf', filename], { cwd: app });
  renameSync(path.join(app, 'package'), path.join(modules, '@chorus', 'client'));
  for (const entry of readdirSync(path.join(tools, 'node_modules'))) {
    symlinkSync(path.join(tools, 'node_modules', entry), path.join(modules, entry));
  }
  cpSync(path.join(tools, 'app'), app, { recursive: true });
  for (const [name, text] of Object.entries(configs)) writeFileSync(path.join(app, name), text);

  for (const [name, { args, page, env }] of Object.entries(bundlers)) {
    const [bin, ...rest] = args;
    await run(path.join(modules, '.bin', bin), rest, {
      cwd: app,
      timeout: 300_000,
      env: { ...process.env, NODE_ENV: 'production', ...env },
    });
    if (page) {
      // Vite writes its own index.html; the others get the app's, beside their bundle.
      const html = readFileSync(path.join(app, 'index.html'), 'utf8').replace('./main.js', `./${page}`);
      writeFileSync(path.join(app, 'out', name, 'index.html'), html);
    }
  }
  site = await serve(path.join(app, 'out'));
  node = await startChorus({
    name: 'chorus (bundler tests)',
    env: {
      CHORUS_AUTH__HMAC_SECRET: secret,
      CHORUS_ALLOWED_ORIGINS: `http://127.0.0.1:${site.address().port}`,
      CHORUS_API_KEY: apiKey,
      CHORUS_NAMESPACES__CHAT__PRESENCE: 'true',
      CHORUS_NAMESPACES__CHAT__HISTORY_SIZE: '10',
      CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS: '600000',
    },
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (node) await stop(node.proc);
  site?.close();
  work?.remove();
});

for (const name of Object.keys(bundlers).filter((n) => n !== 'react')) {
  test(`a production build with ${name} connects, subscribes, publishes and receives in Chromium`, async () => {
    const out = path.join(work.dir, 'out', name);
    const built = files(out);
    assert.ok(built.some((f) => f.endsWith('.wasm')), `${name} emitted the .wasm: ${built.join(', ')}`);
    for (const f of built.filter((f) => f.endsWith('.js'))) {
      assert.ok(!readFileSync(path.join(out, f), 'utf8').includes('node:fs'), `no Node.js-only code in ${name}'s ${f}`);
    }

    const page = await browser.newPage();
    const errors = [];
    const wasm = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasm.push(r.status());
    });
    try {
      const query = new URLSearchParams({ ws: node.ws, token: token(secret, `bundled-${name}`) });
      await page.goto(`http://127.0.0.1:${site.address().port}/${name}/index.html?${query}`);
      const result = await page.waitForSelector('#result[data-result], #result[data-error]', { timeout: DEADLINE });
      assert.equal(await result.getAttribute('data-error'), null, `the ${name} app failed`);
      assert.deepEqual(JSON.parse(await result.getAttribute('data-result')), { text: 'hello from a bundle' });
      assert.ok(wasm.length > 0 && wasm.every((s) => s === 200), `the .wasm was fetched: ${wasm}`);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}

/** The server API of the test node. */
async function api(method, body) {
  const res = await fetch(`${node.base}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `apikey ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method}: ${text}`);
  return JSON.parse(text);
}

test('the documented React hooks in StrictMode: one client and one subscription stay, each publication shows once', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    const query = new URLSearchParams({ ws: node.ws, token: token(secret, 'react-user') });
    await page.goto(`http://127.0.0.1:${site.address().port}/react/index.html?${query}`);
    await page.waitForSelector('#send:not([disabled])', { timeout: DEADLINE });
    // StrictMode mounted twice: a first client was made and closed.
    assert.equal(await page.evaluate(() => window.clientsCreated), 2);
    await page.click('#send');
    await page.waitForSelector('#messages[data-count="1"]', { timeout: DEADLINE });
    await api('publish', { channel: 'chat:react', data: { text: 'from the server' } });
    await page.waitForSelector('#messages[data-count="2"]', { timeout: DEADLINE });
    const shown = await page.$$eval('#messages li', (items) => items.map((li) => li.textContent));
    assert.deepEqual(shown, ['hello from React', 'from the server'], 'each publication once, in order');
    const { clients } = await api('presence', { channel: 'chat:react' });
    assert.equal(clients.length, 1, `one live subscription: ${JSON.stringify(clients)}`);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
