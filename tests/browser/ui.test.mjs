// The web UI in a real browser against a real cluster: headless Chromium
// (Debian's /usr/bin/chromium) driven by playwright-core, one namenode and
// three datanodes from $DFS_BIN_DIR. The steps run in order and share the
// cluster and the page, as a user would: make a directory, upload two files
// (one larger than a block), check the listing and that the root's summary
// counts what is below it, download and compare bytes, rename, delete (a
// file and a folder), drag and drop, open file details (blocks and
// replicas), see API errors, then the datanodes page (racks, each node's
// disks, a failed one, maintenance), the balancer on the overview, and the
// overview (the shared disk counted once) reacting to a SIGKILLed datanode. Screenshots
// go to artifacts/ (the CI artifacts folder); on a failure, a screenshot of
// the page and the cluster's logs go there too.
//
//   cargo build --workspace --bins && cd tests/browser && npm ci && npm test
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, Cluster, launchBrowser, waitFor } from './cluster.mjs';

const BLOCK = 1 << 20;
const BIG_LEN = 2.5 * BLOCK; // 2.5 MiB: three blocks
const SMALL_LEN = 12345;

let cluster;
let browser;
let page;
let tmp;
let bigPath;
let smallPath;
let failed = false;

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
const hash = (p) => (p === '/' ? '#/browse/' : '#/browse' + p.split('/').map(encodeURIComponent).join('/'));

/** Runs a step; on failure, keeps a screenshot of the page and the logs. */
function step(name, fn) {
  test(name, { timeout: 120_000 }, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      if (page) {
        const shot = path.join(ARTIFACTS, `failure-${name.replace(/\W+/g, '-')}.png`);
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        console.error(`screenshot of the failure: ${shot}`);
      }
      throw e;
    }
  });
}

async function api(p, body) {
  const r = await fetch(cluster.url + p, body
    ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
    : {});
  const j = await r.json();
  if (!r.ok) throw new Error(`${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
const exists = async (p) => (await fetch(`${cluster.url}/rpc/v1/status?path=${encodeURIComponent(p)}`)).ok;

/** The page shows no stray JavaScript value as text (a `null` appended). */
async function noStrayText() {
  const text = await page.locator('#main').innerText();
  assert.doesNotMatch(text, /\b(null|undefined|NaN)\b|\[object /, 'stray value on the page');
}

async function shot(name) {
  await noStrayText();
  // Toasts come and go; keep them out of the documentation screenshots.
  await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the locator's text matches `re` (and returns the text). */
async function waitText(locator, re, timeoutMs = 10_000) {
  let last = '';
  await waitFor(`text ${re}`, async () => {
    last = await locator.innerText({ timeout: 1000 }).catch(() => '');
    return re.test(last);
  }, timeoutMs).catch((e) => { throw new Error(`${e.message}; last text: ${JSON.stringify(last)}`); });
  return last;
}

/** Waits until a toast has been shown (and returns its text). */
async function toastText(kind) {
  const t = page.locator(kind === 'error' ? '.toast.error' : '.toast:not(.error)').last();
  await t.waitFor();
  return t.innerText();
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) {
    if (f.startsWith('failure-') || f === 'logs') fs.rmSync(path.join(ARTIFACTS, f), { recursive: true, force: true });
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-files-'));
  bigPath = path.join(tmp, 'big.bin');
  smallPath = path.join(tmp, 'small.txt');
  fs.writeFileSync(bigPath, crypto.randomBytes(BIG_LEN));
  fs.writeFileSync(smallPath, Buffer.alloc(SMALL_LEN, 'dfs web ui test line\n'));
  cluster = await Cluster.start({ datanodes: 3 });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => { console.error('page error:', e.message); });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (cluster) {
    if (failed) {
      const logs = path.join(ARTIFACTS, 'logs');
      fs.cpSync(path.join(cluster.root, 'logs'), logs, { recursive: true });
      console.error(`cluster logs copied to ${logs}`);
    }
    cluster.stop();
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

step('opens the browser at the root and makes a directory', async () => {
  await page.goto(cluster.url + '/');
  await page.waitForURL(/#\/browse\/$/);
  await page.locator('.health.ok').waitFor(); // the header saw a healthy cluster
  await page.getByRole('button', { name: 'New folder' }).click();
  const input = page.locator('#dialog-input');
  await input.fill('reports');
  await input.press('Enter');
  await page.locator('tr[data-name="reports"][data-type="directory"]').waitFor();
  assert.ok(await exists('/reports'));
  await page.locator('tr[data-name="reports"] a[href^="#/browse/"]').click();
  await page.waitForURL((u) => u.hash === '#/browse/reports');
  await page.getByText('This directory is empty.').waitFor();
  await noStrayText();
});

step('uploads two files at once and lists them with their sizes', async () => {
  await page.setInputFiles('#upload-input', [bigPath, smallPath]);
  await page.locator('[data-upload="big.bin"][data-state="done"]').waitFor({ timeout: 60_000 });
  await page.locator('[data-upload="small.txt"][data-state="done"]').waitFor({ timeout: 60_000 });
  const big = page.locator('tr[data-name="big.bin"] td[data-bytes]');
  const small = page.locator('tr[data-name="small.txt"] td[data-bytes]');
  await big.waitFor();
  await small.waitFor();
  assert.equal(await big.getAttribute('data-bytes'), String(BIG_LEN));
  assert.equal((await big.innerText()).trim(), '2.5 MiB');
  assert.equal(await small.getAttribute('data-bytes'), String(SMALL_LEN));
  assert.equal((await small.innerText()).trim(), '12.1 KiB');
  const st = await api('/rpc/v1/status?path=/reports/big.bin');
  assert.equal(st.length, BIG_LEN);
  assert.equal(st.sha256, sha256(fs.readFileSync(bigPath)));
  await shot('browse');
  // A reload (or a shared link) opens the same directory.
  await page.reload();
  await page.locator('tr[data-name="big.bin"]').waitFor();
  assert.equal(new URL(page.url()).hash, '#/browse/reports');
  const count = page.locator('.count');
  await waitText(count, /^2 items · 2\.51 MiB in all$/);
  // The root holds only the folder: its summary counts what is below it
  // (as `dfs du -s /`), not the files directly in it (none).
  await page.locator('.crumbs a', { hasText: 'root' }).click();
  await page.waitForURL((u) => u.hash === '#/browse/');
  await page.locator('tr[data-name="reports"]').waitFor();
  await waitText(count, /^1 item · 2\.51 MiB in all$/);
  assert.equal(await count.getAttribute('data-total-bytes'), String(BIG_LEN + SMALL_LEN));
  assert.match(await count.getAttribute('title'), /2,633,785 bytes in 2 files under \/, sub-folders included/);
  await page.locator('tr[data-name="reports"] a').click();
  await page.waitForURL((u) => u.hash === '#/browse/reports');
  await page.locator('tr[data-name="big.bin"]').waitFor();
});

step('sorts and filters the listing', async () => {
  await page.locator('th button', { hasText: 'Size' }).click();
  let names = await page.locator('#listing tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  assert.deepEqual(names, ['small.txt', 'big.bin']);
  await page.locator('th button', { hasText: 'Size' }).click();
  names = await page.locator('#listing tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  assert.deepEqual(names, ['big.bin', 'small.txt']);
  await page.locator('th button', { hasText: 'Name' }).click(); // back to the default order
  await page.getByLabel('Filter entries by name').fill('sma');
  await waitFor('filter', async () => (await page.locator('#listing tbody tr').count()) === 1);
  await page.getByLabel('Filter entries by name').fill('');
  await waitFor('unfiltered', async () => (await page.locator('#listing tbody tr').count()) === 2);
});

step('downloads a file with the same bytes', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('tr[data-name="big.bin"] [data-action="download"]').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'big.bin');
  const got = fs.readFileSync(await download.path());
  assert.equal(got.length, BIG_LEN);
  assert.ok(got.equals(fs.readFileSync(bigPath)), 'downloaded bytes differ from the upload');
});

step('renames a file', async () => {
  await page.locator('tr[data-name="small.txt"] [data-action="rename"]').click();
  const input = page.locator('#dialog-input');
  assert.equal(await input.inputValue(), '/reports/small.txt');
  await input.fill('notes.txt');
  await input.press('Enter');
  await page.locator('tr[data-name="notes.txt"]').waitFor();
  await page.locator('tr[data-name="small.txt"]').waitFor({ state: 'detached' });
  assert.ok(await exists('/reports/notes.txt'));
  assert.ok(!(await exists('/reports/small.txt')));
});

step('deletes a file and a folder, saying how much goes', async () => {
  // A file: confirm with the button.
  await page.locator('tr[data-name="notes.txt"] [data-action="delete"]').click();
  const summary = page.locator('#dialog [data-delete-summary]');
  await waitText(summary, /1 file: 12\.1 KiB of data, 36\.2 KiB with replicas/);
  // To the trash (the namenode keeps one by default), and the dialog says so.
  await page.locator('#dialog [data-delete-after="trash"]').waitFor();
  assert.equal(await page.locator('#dialog-ok').innerText(), 'Move to trash');
  await page.locator('#dialog-ok').click();
  await page.locator('tr[data-name="notes.txt"]').waitFor({ state: 'detached' });
  assert.ok(!(await exists('/reports/notes.txt')));
  assert.ok(await exists('/user/dfs/.Trash/Current/reports/notes.txt'));
  assert.match(await toastText(), /Moved \/reports\/notes\.txt to the trash/);

  // A folder with something in it: recursive, confirmed with Enter; Escape cancels.
  await api('/rpc/v1/mkdirs', { path: '/reports/old/inner', parents: true });
  const form = new FormData();
  form.append('directory', '/reports/old');
  form.append('file', new Blob([Buffer.alloc(3000, 'x')]), 'a.txt');
  const up = await fetch(cluster.url + '/upload_file', { method: 'POST', body: form });
  assert.equal(up.status, 201);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('tr[data-name="old"]').waitFor();
  await page.locator('tr[data-name="old"] [data-action="delete"]').click();
  await waitText(summary, /1 file and 2 folders/);
  await page.keyboard.press('Escape');
  await page.locator('#dialog').waitFor({ state: 'hidden' });
  assert.ok(await exists('/reports/old'), 'Escape must not delete');
  await page.locator('tr[data-name="old"] [data-action="delete"]').click();
  await page.locator('#dialog-ok').waitFor();
  await page.keyboard.press('Enter');
  await page.locator('tr[data-name="old"]').waitFor({ state: 'detached' });
  assert.ok(!(await exists('/reports/old')));
  assert.ok(await exists('/user/dfs/.Trash/Current/reports/old/inner'));
  assert.match(await toastText(), /Moved \/reports\/old to the trash/);
});

step('the trash shows what was deleted, restores it, deletes for good and empties', async () => {
  await page.locator('[data-nav="trash"]').click();
  await page.waitForURL((u) => u.hash === hash('/user/dfs/.Trash'));
  assert.equal(await page.locator('[data-nav="trash"]').getAttribute('aria-current'), 'page');
  await page.locator('tr[data-name="Current"]').waitFor();
  await page.goto(cluster.url + '/' + hash('/user/dfs/.Trash/Current/reports'));
  await page.locator('tr[data-name="notes.txt"]').waitFor();
  await page.locator('tr[data-name="old"]').waitFor();
  await shot('trash');

  // Restore: back where it was, bit-exact.
  await page.locator('tr[data-name="notes.txt"] [data-action="restore"]').click();
  await page.locator('tr[data-name="notes.txt"]').waitFor({ state: 'detached' });
  assert.match(await toastText(), /Restored \/reports\/notes\.txt/);
  const back = await fetch(`${cluster.url}/download_file`, { method: 'POST', body: new URLSearchParams({ file_name: '/reports/notes.txt' }) });
  assert.equal(back.status, 200);
  assert.equal(sha256(Buffer.from(await back.arrayBuffer())), sha256(fs.readFileSync(smallPath)));
  await api('/rpc/v1/delete', { path: '/reports/notes.txt' });

  // Deleting inside the trash deletes at once, and the dialog says so.
  await page.locator('tr[data-name="old"] [data-action="delete"]').click();
  await page.locator('#dialog [data-delete-after="gone"]').waitFor();
  await page.locator('#dialog-ok').click();
  await page.locator('tr[data-name="old"]').waitFor({ state: 'detached' });
  assert.match(await toastText(), /Deleted 1 file and 2 folders/);
  assert.ok(!(await exists('/user/dfs/.Trash/Current/reports/old')));

  // Empty it: the trash is gone, the page says it is empty.
  await page.goto(cluster.url + '/' + hash('/user/dfs/.Trash'));
  await page.locator('tr[data-name="Current"]').waitFor();
  await page.locator('[data-action="expunge"]').click();
  await page.locator('#dialog-ok').click();
  await waitText(page.locator('.table-wrap'), /The trash is empty/);
  assert.ok(!(await exists('/user/dfs/.Trash')));
  await page.goto(cluster.url + '/' + hash('/reports'));
  await page.locator('tr[data-name="big.bin"]').waitFor();
});

step('a folder with a quota shows what is used of it', async () => {
  const quota = page.locator('[data-quota]');
  assert.ok(await quota.isHidden(), 'no quota, no badge');
  const q = await api('/rpc/v1/set_quota', { path: '/reports', files: 2, bytes: 1 << 30 });
  assert.equal(q.names, 2); // /reports and big.bin
  await page.getByRole('button', { name: 'Refresh' }).click();
  await waitText(quota, /^Quota: 2 of 2 names · 7\.5 MiB of 1 GiB with replicas$/);
  assert.match(await quota.getAttribute('class'), /\bfull\b/);
  // A new folder would be one name too many: the page says why.
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.locator('#dialog-input').fill('more');
  await page.locator('#dialog-input').press('Enter');
  assert.match(await toastText('error'), /name quota of \/reports is exceeded/);
  // Gone before the next step looks for its own error toast.
  await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
  await api('/rpc/v1/set_quota', { path: '/reports', clear_files: true, clear_bytes: true });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await waitFor('the badge gone', async () => quota.isHidden());
});

step('a snapshot is browsed and downloaded from at DIR/.snapshot/NAME', async () => {
  const form = new FormData();
  form.append('directory', '/snap');
  form.append('file', new Blob(['as it was\n']), 'f.txt');
  assert.equal((await fetch(cluster.url + '/upload_file', { method: 'POST', body: form })).status, 201);
  await api('/rpc/v1/snapshot/allow', { path: '/snap' });
  await api('/rpc/v1/snapshot/create', { path: '/snap', name: 's' });
  await api('/rpc/v1/delete', { path: '/snap/f.txt' });
  await page.goto(cluster.url + '/' + hash('/snap/.snapshot'));
  await page.locator('tr[data-name="s"]').waitFor();
  await page.goto(cluster.url + '/' + hash('/snap/.snapshot/s'));
  const row = page.locator('tr[data-name="f.txt"]');
  await row.waitFor();
  await noStrayText();
  const href = await row.locator('[data-action="download"]').getAttribute('href');
  const got = await fetch(new URL(href, cluster.url));
  assert.equal(await got.text(), 'as it was\n');
  // Read-only: the page offers no change there.
  await page.locator('[data-read-only]').waitFor();
  assert.equal(await row.locator('[data-action="delete"]').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Upload files' }).count(), 0);
  await api('/rpc/v1/snapshot/delete', { path: '/snap', name: 's' });
  await api('/rpc/v1/snapshot/disallow', { path: '/snap' });
  await api('/rpc/v1/delete', { path: '/snap', recursive: true });
  await page.goto(cluster.url + '/' + hash('/reports'));
  await page.locator('tr[data-name="big.bin"]').waitFor();
});

step('uploads a file dropped on the listing', async () => {
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped by drag and drop\n'], 'dropped.txt', { type: 'text/plain' }));
    const zone = document.querySelector('.dropzone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  });
  await page.locator('[data-upload="dropped.txt"][data-state="done"]').waitFor();
  await page.locator('tr[data-name="dropped.txt"]').waitFor();
  assert.equal((await api('/rpc/v1/status?path=/reports/dropped.txt')).length, 25);
  await api('/rpc/v1/delete', { path: '/reports/dropped.txt' });
  await page.getByRole('button', { name: 'Clear finished' }).click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('tr[data-name="dropped.txt"]').waitFor({ state: 'detached' });
});

step('shows API errors', async () => {
  // A folder where a file is: the namenode refuses, the page says why.
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.locator('#dialog-input').fill('big.bin');
  await page.locator('#dialog-input').press('Enter');
  const text = await toastText('error');
  assert.match(text, /big\.bin/);
  assert.match(text, /conflict|exists|not a directory|file/i);
  // A path that does not exist.
  await page.goto(cluster.url + '/' + hash('/no/such/dir'));
  await page.locator('.error-box').waitFor();
  assert.match(await page.locator('.error-box').innerText(), /not found|no such|does not exist/i);
});

step('file details show blocks, checksums and replicas', async () => {
  await page.goto(cluster.url + '/' + hash('/reports'));
  await page.locator('tr[data-name="big.bin"] a[href^="#/file/"]').click();
  await page.waitForURL((u) => u.hash === '#/file/reports/big.bin');
  const rows = page.locator('#blocks tbody tr');
  await waitFor('3 blocks', async () => (await rows.count()) === 3);
  const fileSha = sha256(fs.readFileSync(bigPath));
  assert.equal((await page.locator('[data-prop="sha256"] .hash').innerText()).trim(), fileSha);
  assert.match(await page.locator('[data-prop="size"]').innerText(), /2\.5 MiB\s+2,621,440 bytes/);
  // As `dfs stat` shows it (the API gives the octal digits "644").
  assert.match(await page.locator('[data-prop="permission"]').innerText(), /-rw-r--r-- \(644\)/);
  const data = fs.readFileSync(bigPath);
  const lens = [BLOCK, BLOCK, BLOCK / 2];
  for (let i = 0; i < 3; i++) {
    const row = rows.nth(i);
    assert.equal(await row.locator('td[data-bytes]').getAttribute('data-bytes'), String(lens[i]));
    const blockSha = sha256(data.subarray(i * BLOCK, i * BLOCK + lens[i]));
    assert.equal(await row.locator('td.hash').getAttribute('title'), blockSha);
    await waitFor(`3 live replicas of block ${i + 1}`, async () => (await row.locator('.replica[data-state="live"]').count()) === 3);
  }
  await shot('file-details');
});

step('datanodes page lists the nodes, decommissions and recommissions one', async () => {
  await page.locator('[data-nav="datanodes"]').click();
  await page.waitForURL((u) => u.hash === '#/datanodes');
  const rows = page.locator('#datanodes tbody tr');
  await waitFor('3 datanodes', async () => (await page.locator('#datanodes tbody tr[data-state="live"]').count()) === 3);
  // Each row is the node's own (the whole disk), and says the disk is shared.
  await waitFor('shared disk notes', async () => (await page.locator('#datanodes [data-shared-fs]').count()) === 3);
  assert.match(await page.locator('#datanodes [data-shared-fs]').first().innerText(), /disk shared with 2 other nodes/);
  await shot('datanodes');
  const first = rows.first();
  const addr = await first.getAttribute('data-addr');
  await first.locator('[data-action="decommission"]').click();
  await waitText(page.locator('#dialog-title'), new RegExp(`Decommission ${addr}`));
  await page.locator('#dialog-ok').click();
  const row = page.locator(`#datanodes tbody tr[data-addr="${addr}"]`);
  // With three nodes and replication 3 there is nowhere to drain to: the
  // node stays decommissioning (never safe to stop) until another joins.
  await waitFor('decommissioning', async () => (await row.getAttribute('data-admin')) === 'decommissioning');
  await row.locator('[data-drain]').waitFor();
  await shot('datanodes-decommissioning');
  await row.locator('[data-action="recommission"]').click();
  await page.locator('#dialog-ok').click();
  await waitFor('back in service', async () => (await row.getAttribute('data-admin')) === 'normal');
});

step('datanodes page shows each node\'s rack, disks and maintenance', async () => {
  await page.goto(cluster.url + '/#/datanodes');
  await waitFor('3 live datanodes', async () => (await page.locator('#datanodes tbody tr[data-state="live"]').count()) === 3);
  // Each node's one data dir, as `dfs local` gave it, in service, with its
  // usage; and its rack (none given: the default one).
  for (const d of cluster.doc.datanode_processes) {
    const row = page.locator(`#datanodes tbody tr[data-addr="${d.address}"]`);
    const disk = row.locator(`.disk[data-disk="${d.data_dir}"]`);
    await disk.waitFor();
    assert.equal(await disk.getAttribute('data-disk-state'), 'in_service');
    assert.match(await disk.innerText(), /in service[\s\S]* of [\d.]+ [KMGT]iB \([^)]*\) · \d+ blocks?/);
    assert.equal(await row.getAttribute('data-rack'), '/default-rack');
    assert.match(await row.locator('.node-rack').innerText(), /rack \/default-rack/);
  }
  await shot('datanodes-disks');

  // A failed disk (as a datanode with `--data-dir A,B` reports one whose
  // directory went away): the answer is rewritten on its way to the page,
  // since failing the only disk of a node stops it.
  const target = cluster.doc.datanode_processes[1];
  await page.route('**/api/v1/datanodes', async (route) => {
    const resp = await route.fetch();
    const nodes = await resp.json();
    for (const n of nodes) {
      if (n.addr.endsWith(target.address)) {
        n.disks.push({ dir: '/mnt/disk2/dfs', state: 'failed', error: 'I/O error: No such file or directory', capacity: 1 << 30, used: 0, available: 0, blocks: 0 });
      }
    }
    await route.fulfill({ response: resp, json: nodes });
  });
  const failed = page.locator(`#datanodes tbody tr[data-addr="${target.address}"] .disk[data-disk="/mnt/disk2/dfs"]`);
  await failed.waitFor();
  assert.equal(await failed.getAttribute('data-disk-state'), 'failed');
  assert.match(await failed.innerText(), /failed[\s\S]*I\/O error: No such file or directory/);
  await waitText(page.locator('.page-head .muted').first(), /1 failed disk/);
  await shot('datanodes-failed-disk');
  await page.unroute('**/api/v1/datanodes');
  await failed.waitFor({ state: 'detached' });

  // Maintenance for 30 minutes, then ended, through the page.
  const row = page.locator(`#datanodes tbody tr[data-addr="${target.address}"]`);
  await row.locator('[data-action="maintenance"]').click();
  await waitText(page.locator('#dialog-title'), new RegExp(`Put ${target.address} in maintenance`));
  assert.equal(await page.locator('#dialog-input').inputValue(), '30m');
  await page.locator('#dialog-ok').click();
  const m = row.locator('[data-maintenance]');
  await m.waitFor();
  assert.match(await m.innerText(), /maintenance\s+ends in (29|30) min/);
  const node = (await api('/api/v1/datanodes')).find((n) => n.addr.endsWith(target.address));
  assert.equal(node.in_maintenance, true);
  assert.ok(node.maintenance_ends_in_ms > 29 * 60_000 && node.maintenance_ends_in_ms <= 30 * 60_000, String(node.maintenance_ends_in_ms));
  await waitText(page.locator('.page-head .muted').first(), /1 in maintenance/);
  await shot('datanodes-maintenance');
  await row.locator('[data-action="end-maintenance"]').click();
  await page.locator('#dialog-ok').click();
  await m.waitFor({ state: 'detached' });
  assert.equal((await api('/api/v1/datanodes')).find((n) => n.addr.endsWith(target.address)).in_maintenance, false);
});

step('overview shows what the balancer is doing', async () => {
  await page.locator('[data-nav="overview"]').click();
  await page.waitForURL((u) => u.hash === '#/overview');
  const panel = page.locator('section[data-balancer]');
  const doing = panel.locator('[data-stat="balancer-doing"]');
  // Never started since the namenode started.
  await waitFor('balancer panel', async () => (await panel.getAttribute('data-balancer')) === 'idle');
  assert.match(await panel.innerText(), /not running/);
  await waitText(doing, /Not started since the namenode started/);

  // Started for real: three nodes holding every block have nothing to
  // move, so it stops at once; the panel says so and shows the threshold.
  const r = await fetch(`${cluster.url}/api/v1/balancer?threshold=7`, { method: 'POST' });
  assert.equal(r.status, 200, await r.text());
  await waitText(panel.locator('[data-stat="balancer-threshold"] .n'), /^±7$/);
  await waitFor('the balancer to stop', async () => !(await api('/api/v1/balancer')).running, 30_000);
  const st = await api('/api/v1/balancer');
  await waitText(doing, st.last_stop === 'balanced' ? /Finished: every node was within 7 points/ : new RegExp(`Not running \\(${st.last_stop}\\)`));
  await waitText(panel.locator('[data-stat="balancer-moved"]'), /0 B\s+moved in 0 moves/);

  // While it runs (the answer rewritten on its way to the page: moves on a
  // live cluster finish faster than a refresh).
  await page.route('**/api/v1/balancer', (route) => route.fulfill({
    json: {
      running: true, threshold: 7, bandwidth: 64 << 20, bytes_moved: 3 << 20, moves_done: 3, moves_abandoned: 1,
      moves_in_flight: 2, average_used_pct: 41.5, nodes_over: 1, nodes_under: 2, last_stop: null,
    },
  }));
  await waitFor('running', async () => (await panel.getAttribute('data-balancer')) === 'running');
  assert.match(await doing.innerText(), /Moving 2 replicas from 1 node above the average to 2 nodes below it, until every node is within 7 points/);
  assert.match(await panel.locator('[data-stat="balancer-moved"]').innerText(), /3 MiB\s+moved in 3 moves/);
  assert.equal(await panel.locator('[data-stat="balancer-in-flight"] .n').innerText(), '2');
  assert.equal(await panel.locator('[data-stat="balancer-abandoned"] .n').innerText(), '1');
  assert.match(await panel.locator('[data-stat="balancer-average"]').innerText(), /41\.5%|42%/);
  assert.match(await panel.locator('[data-stat="balancer-bandwidth"]').innerText(), /64 MiB\/s/);
  await shot('overview-balancer');
  await page.unroute('**/api/v1/balancer');
  await waitFor('idle again', async () => (await panel.getAttribute('data-balancer')) === 'idle');
});

step('overview changes when a datanode is killed', async () => {
  await page.locator('[data-nav="overview"]').click();
  await page.waitForURL((u) => u.hash === '#/overview');
  const live = page.locator('[data-stat="live"] .n');
  const dead = page.locator('[data-stat="dead"] .n');
  await waitFor('3 live', async () => (await live.innerText()) === '3');
  assert.equal(await dead.innerText(), '0');
  assert.equal(await page.locator('[data-stat="files"] .n').innerText(), '1');
  // The three datanodes share one disk: the capacity is that disk's size,
  // counted once (statfs of the cluster's temp dir), not three times.
  const disk = fs.statfsSync(cluster.root);
  const capacity = page.locator('[data-stat="capacity"]');
  await waitText(capacity, /on 1 file system shared by 3 live datanodes/);
  assert.equal(Number(await capacity.getAttribute('data-bytes')), disk.blocks * disk.bsize);
  await page.locator('[data-repair="idle"]').waitFor();
  await shot('overview');

  cluster.killDatanode(2);
  await waitFor('2 live, 1 dead on the page', async () =>
    (await live.innerText()) === '2' && (await dead.innerText()) === '1', 20_000);
  // Its blocks lost a replica: the repair panel shows the work waiting.
  await page.locator('[data-repair="active"]').waitFor();
  assert.notEqual(await page.locator('[data-stat="under-replicated"] .n').innerText(), '0');
  await page.locator('.health.warn').waitFor();
  await shot('overview-repair');

  await page.locator('[data-nav="datanodes"]').click();
  await page.locator('#datanodes tbody tr[data-state="dead"]').waitFor();
});

step('is readable on a narrow screen', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(cluster.url + '/' + hash('/reports'));
  await page.locator('tr[data-name="big.bin"]').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px on a phone`);
  const tableOverflow = await page.evaluate(() => {
    const w = document.querySelector('#listing').parentElement;
    return w.scrollWidth - w.clientWidth;
  });
  assert.ok(tableOverflow <= 1, `the listing is ${tableOverflow}px too wide on a phone`);
  await shot('browse-narrow');
  await page.setViewportSize({ width: 1280, height: 860 });
});
