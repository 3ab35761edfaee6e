// A real dfs cluster for the browser tests: one namenode and N datanodes,
// spawned from $DFS_BIN_DIR (default <repo>/target/debug) on free 127.0.0.1
// ports below the ephemeral range, data and logs in a temp dir. Mirrors the
// Rust harness (tests/src/lib.rs): wait on observable state, never on sleeps.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN_DIR = process.env.DFS_BIN_DIR ? path.resolve(process.env.DFS_BIN_DIR) : path.join(REPO, 'target/debug');

function bin(name) {
  const p = path.join(BIN_DIR, name);
  if (!fs.existsSync(p)) {
    throw new Error(`binary ${p} is missing: run \`cargo build --workspace --bins\` first (or set DFS_BIN_DIR)`);
  }
  return p;
}

let nextPort = 15000 + ((process.pid * 7919) % 17000);
/** A port that was free a moment ago on 127.0.0.1, between 15000 and 32000. */
export async function freePort() {
  for (let i = 0; i < 17000; i++) {
    const port = 15000 + ((nextPort++ - 15000) % 17000);
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port on 127.0.0.1 between 15000 and 32000');
}

export async function waitFor(what, check, timeoutMs = 30000, everyMs = 100) {
  const start = Date.now();
  let last = 'not yet';
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class Cluster {
  /**
   * @param {object} o
   * @param {number} [o.datanodes=3]
   * @param {string} [o.blockSize='1MiB']
   * @param {string[]} [o.namenodeArgs] extra namenode flags
   * @param {string[]} [o.datanodeArgs] extra flags for every datanode
   */
  static async start(o = {}) {
    const c = new Cluster();
    c.datanodeCount = o.datanodes ?? 3;
    c.datanodeArgs = o.datanodeArgs || [];
    c.root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-'));
    fs.mkdirSync(path.join(c.root, 'logs'));
    c.nnPort = await freePort();
    c.dnPorts = [];
    for (let i = 0; i < c.datanodeCount; i++) c.dnPorts.push(await freePort());
    c.procs = {};
    c.namenodeArgs = [
      '--listen', `127.0.0.1:${c.nnPort}`,
      '--data-dir', path.join(c.root, 'namenode'),
      '--block-size', o.blockSize || '1MiB',
      '--heartbeat-interval', '300ms',
      '--dead-node-timeout', '2s',
      ...(o.namenodeArgs || []),
    ];
    try {
      c.spawn('namenode', bin('namenode'), c.namenodeArgs);
      for (let i = 0; i < c.datanodeCount; i++) c.startDatanode(i);
      await c.waitHealth((h) => h.live_datanodes === c.datanodeCount && !h.safe_mode, `${c.datanodeCount} live datanodes`);
    } catch (e) {
      c.stop();
      throw e;
    }
    return c;
  }

  get url() { return `http://127.0.0.1:${this.nnPort}`; }

  spawn(name, program, args) {
    const log = fs.openSync(path.join(this.root, 'logs', `${name}.log`), 'a');
    const child = spawn(program, args, { stdio: ['ignore', log, log], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' } });
    fs.closeSync(log);
    child.on('exit', (code, signal) => { child.exited = { code, signal }; });
    this.procs[name] = child;
    return child;
  }

  startDatanode(i) {
    return this.spawn(`datanode-${i}`, bin('datanode'), [
      '--namenode', this.url,
      '--listen', `127.0.0.1:${this.dnPorts[i]}`,
      '--data-dir', path.join(this.root, `datanode-${i}`),
      ...(this.datanodeArgs || []),
    ]);
  }

  /** SIGKILL datanode i (a crash). */
  killDatanode(i) {
    const p = this.procs[`datanode-${i}`];
    if (p && !p.exited) p.kill('SIGKILL');
    delete this.procs[`datanode-${i}`];
  }

  get namenodePid() { return this.procs.namenode && this.procs.namenode.pid; }

  async health() {
    const r = await fetch(`${this.url}/health`);
    if (!r.ok) throw new Error(`/health: HTTP ${r.status}`);
    return r.json();
  }

  async waitHealth(pred, what, timeoutMs = 30000) {
    return waitFor(what, async () => {
      const nn = this.procs.namenode;
      if (nn && nn.exited) throw new Error(`the namenode exited (${JSON.stringify(nn.exited)}); see ${this.root}/logs/namenode.log`);
      const h = await this.health();
      return pred(h) ? h : null;
    }, timeoutMs);
  }

  /** Kills every process this cluster started; keeps the temp dir when `keep`. */
  stop({ keep = false } = {}) {
    for (const [name, p] of Object.entries(this.procs || {})) {
      if (!p.exited) {
        try { p.kill('SIGKILL'); } catch (_) { /* already gone */ }
      }
      delete this.procs[name];
    }
    if (keep) {
      console.log(`cluster logs kept in ${this.root}/logs`);
    } else if (this.root) {
      fs.rmSync(this.root, { recursive: true, force: true });
    }
  }

  /** Peak resident memory (VmHWM) of a process, in bytes. */
  static peakRss(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
    if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  }
}

/** Launches Debian's Chromium headless through playwright-core. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

export const ARTIFACTS = path.join(REPO, 'tests/browser/artifacts');
