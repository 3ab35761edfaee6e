// The web UI over HTTPS: a `dfs local --tls` cluster (a throwaway CA) with
// access control on, in headless Chromium told to accept that CA's
// certificates (`ignoreHTTPSErrors`, as `--ignore-certificate-errors`).
// The page signs in (the session cookie is `Secure`, so never sent over
// plain HTTP), uploads a file through the page (its blocks go to https://
// datanodes), and reads it back from the page.
//
//   cargo build --workspace --bins && cd tests/browser && npm ci && npm test
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, launchBrowser, securedCluster } from './cluster.mjs';

const SECRET = 'browser-tls-cluster-secret-0123';
const ALICE = 'alice-tls-browser-token-0123456';

let cluster;
let browser;
let page;
let tmp;
let failed = false;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-tls-'));
  cluster = await securedCluster(tmp, { secret: SECRET, token: ALICE, tls: true });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, ignoreHTTPSErrors: true });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (cluster) {
    if (failed) fs.cpSync(path.join(cluster.root, 'logs'), path.join(ARTIFACTS, 'logs-tls'), { recursive: true });
    cluster.stop();
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the UI works over HTTPS, with a Secure session cookie', { timeout: 120_000 }, async () => {
  try {
    assert.match(cluster.url, /^https:\/\/127\.0\.0\.1:/);
    assert.ok(fs.existsSync(cluster.doc.ca_file), 'the ports file names the CA');

    await page.goto(cluster.url + '/');
    await page.locator('#login-form').waitFor();
    await page.fill('#login-token', ALICE);
    await page.click('#login-form button[type=submit]');
    await page.locator('#whoami').waitFor();
    const session = (await page.context().cookies()).find((c) => c.name === 'dfs_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.secure, true, 'Secure over HTTPS');
    assert.equal(session.httpOnly, true);

    // Upload through the page: three blocks of 1 MiB, each to an https://
    // datanode pipeline behind the namenode's relay.
    const data = crypto.randomBytes(2.5 * (1 << 20));
    const file = path.join(tmp, 'tls.bin');
    fs.writeFileSync(file, data);
    await page.setInputFiles('#upload-input', [file]);
    await page.locator('[data-upload="tls.bin"][data-state="done"]').waitFor({ timeout: 60_000 });
    await page.locator('tr[data-name="tls.bin"]').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'tls.png'), fullPage: true });

    // Read it back from the page, through the namenode's download relay
    // (its blocks come from the https:// datanodes).
    const back = await page.evaluate(async () => {
      const r = await fetch('/download_file?path=/tls.bin');
      const body = await r.arrayBuffer();
      return { status: r.status, bytes: Array.from(new Uint8Array(body).slice(0, 64)), len: body.byteLength };
    });
    assert.equal(back.status, 200);
    assert.equal(back.len, data.length);
    assert.deepEqual(back.bytes, Array.from(data.subarray(0, 64)));
  } catch (e) {
    failed = true;
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'failure-tls.png'), fullPage: true }).catch(() => {});
    throw e;
  }
});
