// The chat presence sample as a user sees it: two real proxies in one cluster, each with its
// presence user function (a Vote CRDT entity), the gateway, and the page in a real headless
// Chromium. Alice is attached to node 1 and bob to node 2; connecting them shows both online in
// both users' views (so each node sees the other's vote), and disconnecting alice shows her
// offline in bob's view on node 2 (her stream's cancellation withdrew her vote on node 1). A
// second window connecting bob again keeps him online when the first disconnects him, until it
// closes.
import t from 'tap';
import type { Page } from 'playwright-core';
import { startChatPresence, type ChatPresence } from '../../samples/chat-presence/run.js';
import { launchBrowser, openPage } from '../support/browser.js';

/** How long a status change may take to reach the page (through replication between the nodes). */
const CHANGE_MS = 30_000;

/** The line for `user` in `viewer`'s view. */
const line = (viewer: string, user: string) => `section.user[data-user="${viewer}"] li[data-user="${user}"]`;

async function expectStatus(page: Page, chat: ChatPresence, viewer: string, user: string, online: boolean): Promise<void> {
  try {
    await page.waitForSelector(`${line(viewer, user)}[data-online="${online}"]`, { timeout: CHANGE_MS });
  } catch (error) {
    const shown = await page.locator(line(viewer, user)).textContent().catch(() => '(no such line)');
    const logs = chat.nodes.map((node) => `--- node ${node.id} ---\n${node.log().slice(-4000)}`).join('\n');
    throw new Error(`${viewer}'s view never showed ${user} ${online ? 'online' : 'offline'} (it shows "${shown}"): ${(error as Error).message}\n${logs}`);
  }
}

t.test('in a real browser: alice (node 1) and bob (node 2) see each other come online and alice go offline; a second window keeps bob online until it closes', async (t) => {
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const chat = await startChatPresence({ retryMs: 500 });
  t.teardown(() => chat.stop());

  const { page, errors } = await openPage(browser, chat.url);
  await page.waitForSelector('#gateway[data-state="ready"]', { timeout: 10_000 });
  t.match(await page.textContent('#gateway'), /2 proxy nodes/, 'the page has a session at the gateway, over both nodes');

  for (const name of ['alice', 'bob']) {
    await page.fill('#new-user', name);
    await page.click('#add');
    await page.waitForSelector(`section.user[data-user="${name}"]`);
  }
  t.equal(await page.getAttribute('section.user[data-user="alice"]', 'data-node'), '1', 'alice is attached to node 1');
  t.equal(await page.getAttribute('section.user[data-user="bob"]', 'data-node'), '2', 'bob is attached to node 2');

  // Nobody is connected yet: every view says so (each Monitor's first answer).
  for (const viewer of ['alice', 'bob']) for (const user of ['alice', 'bob']) await expectStatus(page, chat, viewer, user, false);
  t.pass('before connecting, both are offline in both views');

  await page.click('section.user[data-user="alice"] button.toggle');
  await page.click('section.user[data-user="bob"] button.toggle');
  t.equal(await page.textContent('section.user[data-user="alice"] button.toggle'), 'Disconnect', 'the toggle turns into Disconnect');
  for (const viewer of ['alice', 'bob']) for (const user of ['alice', 'bob']) await expectStatus(page, chat, viewer, user, true);
  t.pass('connected: both are online in alice\'s view (node 1) and in bob\'s view (node 2)');

  await page.click('section.user[data-user="alice"] button.toggle');
  await expectStatus(page, chat, 'bob', 'alice', false);
  t.pass('alice disconnected on node 1: bob\'s view on node 2 shows her offline');
  await expectStatus(page, chat, 'alice', 'alice', false);
  t.equal(await page.getAttribute(`${line('bob', 'bob')}`, 'data-online'), 'true', 'bob is still online');
  t.equal(await page.getAttribute(`${line('alice', 'bob')}`, 'data-online'), 'true', 'and alice\'s view on node 1 still shows him online');

  // A second window connects bob on node 2 as well: bob's vote there holds while either of his
  // two connections lasts, and closing that window takes its connection with it.
  const second = await openPage(browser, chat.url);
  await second.page.waitForSelector('#gateway[data-state="ready"]', { timeout: 10_000 });
  for (const name of ['carol', 'bob']) {
    await second.page.fill('#new-user', name);
    await second.page.click('#add');
  }
  t.equal(await second.page.getAttribute('section.user[data-user="bob"]', 'data-node'), '2', 'bob is on node 2 in the second window too');
  await second.page.click('section.user[data-user="bob"] button.toggle');
  await expectStatus(second.page, chat, 'bob', 'bob', true);
  await page.click('section.user[data-user="bob"] button.toggle');
  await page.waitForSelector('section.user[data-user="bob"] .link[data-state="closed"]');
  // Views asked for after the disconnect (dave on node 1, erin on node 2): their first answer
  // comes after the cancellation reached bob's entity, so a withdrawn vote would show here.
  for (const name of ['dave', 'erin']) {
    await page.fill('#new-user', name);
    await page.click('#add');
  }
  t.equal(await page.getAttribute('section.user[data-user="erin"]', 'data-node'), '2', 'erin is on node 2');
  await page.waitForSelector(`${line('erin', 'bob')}:not([data-online="unknown"])`, { timeout: CHANGE_MS });
  await page.waitForSelector(`${line('dave', 'bob')}:not([data-online="unknown"])`, { timeout: CHANGE_MS });
  t.equal(await page.getAttribute(line('erin', 'bob'), 'data-online'), 'true', 'bob disconnected in the first window stays online on node 2: his other connection there holds the vote');
  t.equal(await page.getAttribute(line('dave', 'bob'), 'data-online'), 'true', 'and on node 1');
  await second.page.close();
  await expectStatus(page, chat, 'alice', 'bob', false);
  await expectStatus(page, chat, 'erin', 'bob', false);
  t.pass('closing the second window ends its session: bob goes offline on both nodes');

  t.same(errors, [], 'the first page logged no errors');
  t.same(second.errors, [], 'nor the second');
  await page.close();
});
