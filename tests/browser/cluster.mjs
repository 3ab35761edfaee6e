// A real dfs cluster for the browser tests, started by `dfs local`: one
// namenode and N datanodes that `dfs local --port 0 --ports-file F` runs
// (the binary `dfs` from $DFS_BIN_DIR, default <repo>/target/debug, with
// `namenode` and `datanode` beside it) on free 127.0.0.1 ports below the
// ephemeral range, data and logs in a temp dir (`dfs local`'s own output in
// <root>/dfs-local.log, each process's in <root>/logs/). `dfs local` is the
// one launcher: it decides readiness (every datanode live in /health, no
// startup safe mode) and only then writes the ports file, which names every
// process's port, pid, data dir and log. We wait on that file and on
// observable state, never on sleeps. Datanode i here (0-based) is
// `datanode-(i+1)` there.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN_DIR = process.env.DFS_BIN_DIR ? path.resolve(process.env.DFS_BIN_DIR) : path.join(REPO, 'target/debug');
/** dfs local gives up after 60 s itself. */
const READY_TIMEOUT_MS = 90_000;
/** dfs local gives each group of processes 10 s between SIGTERM and SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;

function bin(name) {
  const p = path.join(BIN_DIR, name);
  if (!fs.existsSync(p)) {
    throw new Error(`binary ${p} is missing: run \`cargo build --workspace --bins\` first (or set DFS_BIN_DIR)`);
  }
  return p;
}

/** Whether process `pid` runs (a zombie, exited but not yet reaped, counts as gone). */
function alive(pid) {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (_) {
    return false;
  }
  return !stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('Z');
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
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
   * @param {number} [o.namenodes=1] several: `dfs local --namenodes N`
   * @param {number} [o.datanodes=3]
   * @param {string} [o.blockSize='1MiB']
   * @param {string[]} [o.namenodeArgs] extra namenode flags
   * @param {string[]} [o.datanodeArgs] extra flags for every datanode
   * @param {boolean} [o.tls] `dfs local --tls`: HTTPS everywhere, the
   *   throwaway CA in `doc.ca_file`
   */
  static async start(o = {}) {
    const c = new Cluster();
    c.datanodeCount = o.datanodes ?? 3;
    c.root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-browser-'));
    c.portsFile = path.join(c.root, 'ports.json');
    c.output = path.join(c.root, 'dfs-local.log');
    const nnArgs = ['--heartbeat-interval', '300ms', '--dead-node-timeout', '2s', ...(o.namenodeArgs || [])];
    const args = [
      'local', '--port', '0', '--ports-file', c.portsFile, '--data-dir', c.root,
      '--datanodes', String(c.datanodeCount), '--block-size', o.blockSize || '1MiB',
      ...(o.namenodes > 1 ? ['--namenodes', String(o.namenodes)] : []),
      ...(o.tls ? ['--tls'] : []),
      ...nnArgs.map((a) => `--namenode-arg=${a}`),
      ...(o.datanodeArgs || []).map((a) => `--datanode-arg=${a}`),
    ];
    try {
      const dfs = bin('dfs');
      bin('namenode');
      bin('datanode');
      const out = fs.openSync(c.output, 'a');
      const child = spawn(dfs, args, { stdio: ['ignore', out, out], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' } });
      fs.closeSync(out);
      child.on('exit', (code, signal) => { child.exited = { code, signal }; });
      c.proc = child;
      c.doc = await c.waitPortsFile();
    } catch (e) {
      c.stop();
      throw e;
    }
    return c;
  }

  /** The ports file's document, once dfs local writes it; fails at once if dfs local exits first. */
  async waitPortsFile() {
    const start = Date.now();
    for (;;) {
      if (this.proc.exited) {
        throw new Error(`dfs local exited (${JSON.stringify(this.proc.exited)}) before the cluster was ready:\n${tail(this.output)}`);
      }
      try {
        return JSON.parse(fs.readFileSync(this.portsFile, 'utf8')); // it appears whole
      } catch (_) { /* not yet */ }
      if (Date.now() - start > READY_TIMEOUT_MS) {
        throw new Error(`no ports file from dfs local after ${READY_TIMEOUT_MS} ms:\n${tail(this.output)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get url() { return this.doc.namenode; }

  get namenodePid() { return this.doc && this.doc.namenode_pid; }

  /** SIGKILL datanode i, 0-based (a crash); dfs local reports it and carries on. */
  killDatanode(i) {
    const d = this.doc.datanode_processes[i];
    if (!d) throw new Error(`no datanode ${i} (there are ${this.doc.datanode_processes.length})`);
    if (alive(d.pid)) process.kill(d.pid, 'SIGKILL');
  }

  async health() {
    const r = await fetch(`${this.url}/health`);
    if (!r.ok) throw new Error(`/health: HTTP ${r.status}`);
    return r.json();
  }

  async waitHealth(pred, what, timeoutMs = 30000) {
    return waitFor(what, async () => {
      if (this.proc && this.proc.exited) throw new Error(`dfs local exited (${JSON.stringify(this.proc.exited)}); see ${this.output}`);
      const h = await this.health();
      return pred(h) ? h : null;
    }, timeoutMs);
  }

  /**
   * Stops the cluster: SIGTERM to dfs local, which stops every process, then
   * SIGKILL after a while. Synchronous, so an `after` hook may call it
   * without awaiting. Keeps the temp dir when `keep`.
   */
  stop({ keep = false } = {}) {
    const p = this.proc;
    if (p && !p.exited && alive(p.pid)) {
      try { p.kill('SIGTERM'); } catch (_) { /* already gone */ }
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (alive(p.pid) && Date.now() < deadline) sleepSync(50);
      if (alive(p.pid)) {
        try { p.kill('SIGKILL'); } catch (_) { /* already gone */ }
      }
    }
    // Should dfs local have been killed, its processes get SIGTERM from the
    // kernel; make sure nothing is left either way.
    const pids = this.doc
      ? [this.doc.namenode_pid, ...(this.doc.namenodes || []).map((n) => n.pid), ...this.doc.datanode_processes.map((d) => d.pid)]
      : [];
    for (const pid of pids) {
      if (alive(pid)) {
        try { process.kill(pid, 'SIGKILL'); } catch (_) { /* already gone */ }
      }
    }
    this.proc = null;
    if (keep) {
      console.log(`cluster logs kept in ${this.root}/logs and ${this.output}`);
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

/**
 * A cluster of two datanodes with access control on: one user, `alice`
 * (a superuser), whose token is `token`; the users and secret files go in
 * `dir`. `tls`: as `Cluster.start`'s.
 */
export async function securedCluster(dir, { secret, token, tls = false }) {
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, secret + '\n');
  const users = path.join(dir, 'users.toml');
  fs.writeFileSync(users, `cluster_secret = "${secret}"\n[users.alice]\ntoken = "${token}"\nsuperuser = true\n`);
  return Cluster.start({
    datanodes: 2,
    tls,
    namenodeArgs: ['--auth', users, '--replication', '2'],
    datanodeArgs: ['--cluster-secret-file', secretFile],
  });
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
