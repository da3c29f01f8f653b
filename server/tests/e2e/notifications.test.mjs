// The notifications example (examples/notifications) in headless Chromium, run
// as its README says: `chorus --dev`, then the app, which finds the server's
// keys in the development credentials file. Two users in two browser contexts:
// a notification from bob's page reaches alice only, a broadcast reaches both,
// and a tab closed and opened again gets the notification it missed from the
// inbox, once, and not the ones it had already shown.
import assert from 'node:assert/strict';
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

/** Resolves once `page` lists a notification of `kind` whose text is `text`. */
function shown(page, kind, text) {
  return page.waitForFunction(
    ([kind, text]) => [...document.querySelectorAll(`#notifications li[data-kind=${kind}] .text`)].some((e) => e.textContent === text),
    [kind, text],
    wait,
  );
}

/** The texts `page` lists, newest first. */
function texts(page) {
  return page.$$eval('#notifications li .text', (els) => els.map((e) => e.textContent));
}

/** Sends a notification through the app's backend, as a service would. */
async function notify(base, user, text) {
  const r = await fetch(`${base}/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, text }),
  });
  assert.equal(r.status, 200, await r.text());
}

test('notifications reach their user, broadcasts everyone, and a reopened tab catches up', async () => {
  const node = await startDevNode();
  let app;
  let browser;
  try {
    app = await startApp('notifications', node);
    browser = await launchBrowser();
    const aliceContext = await browser.newContext();
    const alice = await signIn(aliceContext, app.base, 'alice');
    const bob = await signIn(await browser.newContext(), app.base, 'bob');

    // Bob's page notifies alice: she sees it.
    await bob.fill('#notify input[name=user]', 'alice');
    await bob.fill('#notify input[name=text]', 'hello alice');
    await bob.click('#notify button');
    await shown(alice, 'notification', 'hello alice');

    // A broadcast from bob's page: both see it, and bob never got alice's.
    await bob.fill('#broadcast input[name=text]', 'maintenance at noon');
    await bob.click('#broadcast button');
    await shown(alice, 'broadcast', 'maintenance at noon');
    await shown(bob, 'broadcast', 'maintenance at noon');
    assert.deepEqual(await texts(bob), ['maintenance at noon']);
    assert.deepEqual(await texts(alice), ['maintenance at noon', 'hello alice'], 'newest first');
    assert.equal(await alice.textContent('#error'), '');

    // Alice closes her tab; the backend notifies her; her next tab, in the
    // same browser (its inbox position kept), gets it from her inbox.
    await alice.close();
    await notify(app.base, 'alice', 'while you were away');
    const again = await aliceContext.newPage();
    await again.goto(`${app.base}/`);
    await again.click('#signin button'); // the name is remembered
    await again.waitForSelector('#state.connected', wait);
    await shown(again, 'notification', 'while you were away');

    // Live again; once the next one is in, the replay is long over: the
    // missed notification came once, and nothing shown before came again.
    await notify(app.base, 'alice', 'back online');
    await shown(again, 'notification', 'back online');
    assert.deepEqual(await texts(again), ['back online', 'while you were away']);
  } finally {
    await browser?.close();
    if (app) await stop(app.proc);
    await node.close();
  }
});
