// The overview with three namenodes (`dfs local --namenodes 3`): a panel
// lists them with their roles and who leads, served by a follower as well
// as by the leader; when the leader is SIGKILLed, the page served by a
// follower shows the new leader.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, Cluster, launchBrowser, waitFor } from './cluster.mjs';

let cluster;
let browser;

before(async () => {
  cluster = await Cluster.start({ namenodes: 3, datanodes: 3 });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (cluster) cluster.stop({ keep: !!process.env.DFS_KEEP_LOGS });
});

/** The leader's URL, as some namenode among `urls` reports it. */
async function leaderAmong(urls) {
  return waitFor('a leader', async () => {
    for (const u of urls) {
      try {
        const r = await (await fetch(`${u}/api/v1/namenodes`)).json();
        if (r.leader && urls.includes(r.leader)) return r.leader;
      } catch (_) { /* down */ }
    }
    return null;
  }, 30000);
}

test('the overview shows the namenodes and who leads, and the new leader after a failover', async () => {
  const members = cluster.doc.namenodes;
  assert.equal(members.length, 3);
  const urls = members.map((n) => n.url);
  const leader = await leaderAmong(urls);
  const follower = urls.find((u) => u !== leader);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${follower}/#/overview`);
  const panel = page.locator('[data-namenodes="3"]');
  await panel.waitFor();
  assert.equal(await panel.locator('tr[data-role="leader"]').count(), 1);
  assert.equal(await panel.locator('tr[data-role="follower"]').count(), 2);
  assert.equal(await panel.locator(`tr[data-namenode="${leader}"]`).getAttribute('data-role'), 'leader');
  assert.match(await panel.innerText(), new RegExp(`served by ${follower.replace(/[.:/]/g, '\\$&')} \\(follower\\)`));

  const dead = members.find((n) => n.url === leader);
  process.kill(dead.pid, 'SIGKILL');
  const rest = urls.filter((u) => u !== leader);
  const next = await leaderAmong(rest);
  // The page served by a follower (or by the new leader, if it is that one)
  // shows the new leader at its next refresh.
  await page.waitForFunction((url) => {
    const row = document.querySelector(`[data-namenodes] tr[data-role="leader"]`);
    return row && row.dataset.namenode === url;
  }, next, { timeout: 30000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'namenodes.png') }).catch(() => {});
});
