// The chat example (examples/chat) in headless Chromium, run as its README
// says: `chorus --dev`, then the app, which finds the server's keys in the
// development credentials file. Two users in two browser contexts: presence,
// typing, a room message, a direct message with its unread badge, and a tab
// closed and opened again that gets the direct message it missed from the inbox.
import { test } from 'node:test';
import { DEADLINE, launchBrowser, startApp, startDevNode, stop } from './processes.mjs';

const wait = { timeout: DEADLINE };

/** Opens the app in `context` and signs in as `user`. */
async function signIn(context, base, user) {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.fill('#signin input[name=user]', user);
  await page.click('#signin button');
  await page.waitForSelector('#state.connected', wait);
  return page;
}

/** Resolves once the text of `#id` on `page` includes `includes`. */
function text(page, id, includes) {
  return page.waitForFunction(([id, s]) => document.getElementById(id).textContent.includes(s), [id, includes], wait);
}

test('two users chat in a room and directly, and a reopened tab catches up', async () => {
  const node = await startDevNode();
  let app;
  let browser;
  try {
    app = await startApp('chat', node);
    browser = await launchBrowser();
    const aliceContext = await browser.newContext();
    const alice = await signIn(aliceContext, app.base, 'alice');
    const bob = await signIn(await browser.newContext(), app.base, 'bob');

    // Presence: both are in the default room.
    await alice.waitForFunction(() => document.getElementById('count').textContent === '2', null, wait);
    // Typing shows on the other side before the message is sent.
    await alice.fill('#send input[name=text]', 'hello room');
    await text(bob, 'typing', 'alice');
    await alice.click('#send button');
    await text(bob, 'log', 'hello room');

    // Bob opens a direct conversation with alice from the member list.
    await bob.click('#members li[data-user=alice] button');
    await bob.fill('#send input[name=text]', 'secret hi');
    await bob.click('#send button');
    await alice.waitForFunction(() => document.querySelector('#dms li[data-peer=bob] .badge')?.textContent === '1', null, wait);

    // Alice closes her tab; bob writes; her next tab gets it from her inbox.
    await alice.close();
    await bob.fill('#send input[name=text]', 'while you were away');
    await bob.click('#send button');
    const again = await aliceContext.newPage();
    await again.goto(`${app.base}/`);
    await again.click('#signin button'); // the name is remembered
    await again.waitForSelector('#state.connected', wait);
    await again.click('#dms li[data-peer=bob] button', wait);
    await text(again, 'log', 'while you were away');
  } finally {
    await browser?.close();
    if (app) await stop(app.proc);
    await node.close();
  }
});
