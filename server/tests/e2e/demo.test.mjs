// The README's run command serves a chat demo at `/`: two browser tabs talk.
// Runs the real `chorus` binary (CHORUS_BIN, default target/debug/chorus) in
// headless Chromium (CHROMIUM, default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startDevNode } from './processes.mjs';

test('two tabs of the demo page chat with each other', async () => {
  const node = await startDevNode();
  const { base } = node;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    const a = await context.newPage();
    const b = await context.newPage();
    // The page runs on the browser SDK the server serves at /sdk/.
    const wasm = a.waitForResponse((r) => r.url().endsWith('/sdk/wasm/chorus_wasm_bg.wasm'), { timeout: 20000 });
    await a.goto(`${base}/`);
    const module = await wasm;
    assert.equal(module.status(), 200);
    assert.equal(module.headers()['content-type'], 'application/wasm');
    await b.goto(`${base}/`);
    await a.waitForSelector('#state.connected', { timeout: 20000 });
    await b.waitForSelector('#state.connected', { timeout: 20000 });
    const says = (page, text) =>
      page.waitForFunction((t) => document.getElementById('log').textContent.includes(t), text, { timeout: 20000 });
    await a.fill('input[name=text]', 'hello from tab A');
    await a.click('button');
    await says(b, 'hello from tab A');
    await b.fill('input[name=text]', 'hi back from B');
    await b.click('button');
    await says(a, 'hi back from B');
    await a.waitForFunction(() => document.getElementById('members').textContent === '2', null, { timeout: 20000 });
    // A third tab opened later sees the conversation from history.
    const c = await context.newPage();
    await c.goto(`${base}/`);
    await says(c, 'hi back from B');
    assert.ok((await c.textContent('#log')).includes('hello from tab A'));
  } finally {
    await browser.close();
    await node.close();
  }
});
