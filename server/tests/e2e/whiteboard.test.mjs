// The whiteboard example (examples/whiteboard) in headless Chromium, run as
// its README says: `chorus --dev`, then the app with three bots. A user sees
// everyone here and the bots' cursors, draws a stroke with the mouse, a second
// user sees it arrive live, and a third who comes later gets it from history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEADLINE, launchBrowser, startApp, startDevNode, stop } from './processes.mjs';

const wait = { timeout: DEADLINE };
const BOTS = ['bot-1', 'bot-2', 'bot-3'];

/** Opens the app in a new context of `browser` and signs in as `user`. */
async function signIn(browser, base, user) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/`);
  await page.fill('#signin input[name=user]', user);
  await page.click('#signin button');
  await page.waitForSelector('#state.connected', wait);
  await page.waitForSelector('#board[data-live]', wait);
  return page;
}

/** Resolves once `#count` on `page` reads `n`. */
function count(page, n) {
  return page.waitForFunction((n) => document.getElementById('count').textContent === String(n), n, wait);
}

/** Resolves once `page` shows `n` strokes by `user`. */
function strokesBy(page, user, n) {
  return page.waitForSelector(`#people li[data-user="${user}"][data-strokes="${n}"]`, { ...wait, state: 'attached' });
}

test('bots and people share a board: cursors, presence, live strokes and history', async () => {
  const node = await startDevNode();
  let app;
  let browser;
  try {
    app = await startApp('whiteboard', node, ['--bots', String(BOTS.length)]);
    browser = await launchBrowser();
    const alice = await signIn(browser, app.base, 'alice');

    // Everyone here: three bots and alice; every bot's cursor moves on her board.
    await count(alice, BOTS.length + 1);
    for (const bot of BOTS) {
      await alice.waitForSelector(`#people li[data-user="${bot}"]`, { ...wait, state: 'attached' });
      await alice.waitForSelector(`#cursors .cursor[data-user="${bot}"]`, { ...wait, state: 'attached' });
    }

    const bob = await signIn(browser, app.base, 'bob');
    await count(bob, BOTS.length + 2);
    await count(alice, BOTS.length + 2);

    // Alice draws one stroke with the mouse; bob sees it arrive, and her cursor.
    const box = await alice.locator('#board').boundingBox();
    await alice.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
    await alice.mouse.down();
    for (let i = 1; i <= 10; i++) {
      await alice.mouse.move(box.x + box.width * (0.2 + i * 0.04), box.y + box.height * (0.3 + i * 0.02), { steps: 2 });
    }
    await alice.mouse.up();
    await strokesBy(alice, 'alice', 1);
    await strokesBy(bob, 'alice', 1);
    await bob.waitForSelector('#cursors .cursor[data-user="alice"]', { ...wait, state: 'attached' });

    // Carol comes later: alice's stroke is drawn from the board's history.
    const carol = await signIn(browser, app.base, 'carol');
    await strokesBy(carol, 'alice', 1);
    const total = Number(await carol.textContent('#strokes'));
    assert.ok(total >= 1, `carol's board has ${total} strokes`);
  } finally {
    await browser?.close();
    if (app) await stop(app.proc);
    await node.close();
  }
});
