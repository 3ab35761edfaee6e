// A 1 GiB upload through the page's file input keeps the namenode under
// 300 MiB resident memory: the browser streams the file (XMLHttpRequest +
// FormData over a Blob), the namenode relays the multipart stream into the
// write pipeline without holding it. Reads the namenode's peak RSS (VmHWM
// in /proc/<pid>/status) after the upload, prints it, fails above the limit.
// The file gets two replicas (the relay is what is measured, not the
// pipeline's width), so it needs about three times its size free in the
// temp dir; it says so up front rather than failing mid-upload.
//
// Takes about a minute, so it runs only with DFS_BROWSER_BIG_UPLOAD=1
// (`npm run test:big`; CI sets it). DFS_BROWSER_BIG_SIZE_MIB (1024) and
// DFS_BROWSER_RSS_LIMIT_MIB (300) change the figures.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, Cluster, launchBrowser } from './cluster.mjs';

const enabled = process.env.DFS_BROWSER_BIG_UPLOAD === '1';
const SIZE_MIB = Number(process.env.DFS_BROWSER_BIG_SIZE_MIB || 1024);
const LIMIT_MIB = Number(process.env.DFS_BROWSER_RSS_LIMIT_MIB || 300);
const MIB = 1 << 20;

let cluster;
let browser;
let tmp;

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (cluster) cluster.stop({ keep: !!process.env.DFS_KEEP_LOGS });
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Writes `mib` MiB of random bytes in 1 MiB chunks; returns the SHA-256. */
function writeRandomFile(file, mib) {
  const fd = fs.openSync(file, 'w');
  const h = crypto.createHash('sha256');
  const chunk = Buffer.alloc(MIB);
  try {
    for (let i = 0; i < mib; i++) {
      crypto.randomFillSync(chunk);
      h.update(chunk);
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

test(`${SIZE_MIB} MiB upload through the browser keeps the namenode under ${LIMIT_MIB} MiB RSS`,
  { skip: !enabled && 'set DFS_BROWSER_BIG_UPLOAD=1 (npm run test:big)', timeout: 15 * 60_000 }, async () => {
    const need = 3 * SIZE_MIB * MIB + 512 * MIB;
    const st0 = fs.statfsSync(os.tmpdir());
    const free = st0.bavail * st0.bsize;
    assert.ok(free >= need, `${os.tmpdir()} has ${(free / MIB).toFixed(0)} MiB free; this test needs ` +
      `${(need / MIB).toFixed(0)} MiB (the ${SIZE_MIB} MiB file and its two replicas)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-big-'));
    const file = path.join(tmp, 'big-upload.bin');
    const t0 = Date.now();
    const sha = writeRandomFile(file, SIZE_MIB);
    console.log(`wrote ${SIZE_MIB} MiB test file in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    cluster = await Cluster.start({ datanodes: 3, blockSize: '64MiB', namenodeArgs: ['--replication', '2'] });
    const pid = cluster.namenodePid;
    const before = Cluster.peakRss(pid);
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${cluster.url}/#/browse/`);
    await page.getByRole('button', { name: 'New folder' }).waitFor();

    const t1 = Date.now();
    await page.setInputFiles('#upload-input', file);
    const item = page.locator('[data-upload="big-upload.bin"]');
    await item.waitFor();
    let last = '';
    for (;;) {
      const state = await item.getAttribute('data-state');
      if (state === 'done') break;
      if (state === 'failed' || state === 'cancelled') {
        throw new Error(`the upload ${state}: ${await item.innerText()}`);
      }
      const text = await item.locator('.u-meta').innerText();
      if (text !== last && (process.env.DFS_BROWSER_VERBOSE || Date.now() % 5000 < 600)) console.log(`  ${text}`);
      last = text;
      await new Promise((r) => setTimeout(r, 500));
    }
    const secs = (Date.now() - t1) / 1000;
    await page.screenshot({ path: path.join(ARTIFACTS, 'big-upload.png') }).catch(() => {});

    const st = await (await fetch(`${cluster.url}/rpc/v1/status?path=/big-upload.bin`)).json();
    assert.equal(st.length, SIZE_MIB * MIB);
    assert.equal(st.sha256, sha, 'the stored file has a different SHA-256');

    const peak = Cluster.peakRss(pid);
    const peakMib = peak / MIB;
    console.log(`browser upload: ${SIZE_MIB} MiB in ${secs.toFixed(1)} s (${(SIZE_MIB / secs).toFixed(1)} MiB/s); ` +
      `namenode peak RSS (VmHWM) ${peakMib.toFixed(1)} MiB (${(before / MIB).toFixed(1)} MiB before the upload), limit ${LIMIT_MIB} MiB`);
    assert.ok(peakMib < LIMIT_MIB, `namenode peak RSS ${peakMib.toFixed(1)} MiB is above ${LIMIT_MIB} MiB`);
  });
