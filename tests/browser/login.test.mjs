// The web UI with access control on: a namenode started with `--auth`,
// datanodes with the cluster secret. The page asks for a token (every API
// answers 401 without one), refuses a wrong one, signs in with the right
// one (an HttpOnly session cookie the page's script cannot read), browses
// and uploads as that user, and signs out again.
//
//   cargo build --workspace --bins && cd tests/browser && npm ci && npm test
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, launchBrowser, securedCluster } from './cluster.mjs';

const SECRET = 'browser-test-cluster-secret-0123';
const ALICE = 'alice-browser-token-0123456789';

let cluster;
let browser;
let page;
let tmp;
let failed = false;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-auth-'));
  cluster = await securedCluster(tmp, { secret: SECRET, token: ALICE });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  page.setDefaultTimeout(20_000);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (cluster) {
    if (failed) fs.cpSync(path.join(cluster.root, 'logs'), path.join(ARTIFACTS, 'logs-login'), { recursive: true });
    cluster.stop();
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the UI asks for a token, signs in with a cookie, and signs out', { timeout: 120_000 }, async () => {
  try {
    // The API itself refuses an anonymous caller.
    assert.equal((await fetch(`${cluster.url}/rpc/v1/list?path=/`)).status, 401);

    await page.goto(cluster.url + '/');
    await page.locator('#login-form').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'login.png'), fullPage: true });

    // A wrong token: an error on the form, still signed out.
    await page.fill('#login-token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('.login-error:not([hidden])').waitFor();
    assert.match(await page.locator('.login-error').innerText(), /not valid/);

    // The right one: the listing appears, with who is signed in.
    await page.fill('#login-token', ALICE);
    await page.click('#login-form button[type=submit]');
    await page.locator('#whoami').waitFor();
    assert.match(await page.locator('#whoami').innerText(), /alice/);
    await page.waitForFunction(() => !document.getElementById('login-form'));
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'dfs_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('dfs_session')), false, 'script cannot read it');

    // The UI's API calls work with the cookie: make a folder through the API
    // the page uses, and see it listed.
    const made = await page.evaluate(async () => (await fetch('/rpc/v1/mkdirs', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/from-ui', parents: true }),
    })).json());
    assert.equal(made.owner, 'alice');
    await page.reload();
    await page.locator('text=from-ui').first().waitFor();

    // Sign out: back to the form, and the API refuses again.
    await page.click('#whoami button');
    await page.locator('#login-form').waitFor();
    const status = await page.evaluate(async () => (await fetch('/rpc/v1/list?path=/')).status);
    assert.equal(status, 401);
  } catch (e) {
    failed = true;
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'failure-login.png'), fullPage: true }).catch(() => {});
    throw e;
  }
});
