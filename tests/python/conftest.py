"""A real dfs cluster for the Python tests, started by `dfs local`.

`cluster` (session scope) is one namenode and three datanodes that
`dfs local --port 0 --ports-file F` runs (the binary `dfs` from
`$DFS_BIN_DIR`, default `<repo>/target/debug`, with `namenode` and
`datanode` beside it; build them with `cargo build --workspace --bins`) on
free 127.0.0.1 ports in a temp dir, with 1 MiB blocks so that small test
files span several blocks. `own_cluster` (module scope) is another one for a
module that changes cluster state (safe mode, decommissioning);
`make_cluster(namenode_args=[...], datanode_args=[...])` starts one with
other flags, `make_cluster(namenodes=3)` one with three namenodes (a Raft
group: `cluster.namenode_urls`, `cluster.leader_url()`,
`cluster.follower_urls()`, `cluster.kill_namenode(url)`, and
`cluster.at(url)`, the same cluster seen through one namenode's address);
`ha_cluster` (module scope) is such a cluster, started once per module that
asks for it; `make_cluster(tls=True)` runs `dfs local --tls` (HTTPS
everywhere, `cluster.ca_file` the throwaway CA). `dfs local` is the one launcher: it picks the ports, starts the
processes, decides readiness (every datanode live in `/health`, no startup
safe mode) and only then writes the ports file, which says where everything
is; this harness waits for that file, never sleeps, and fails at once with
`dfs local`'s output if it exits first. Its output goes to
`<root>/dfs-local.log`, each process's log to `<root>/logs/`. `stop()` sends
it SIGTERM (it stops every process), then SIGKILL after a while. When a test
failed, the tail of every log is printed and the temp dir is kept.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BLOCK_SIZE = 1 << 20  # must match --block-size below
HOST = "127.0.0.1"  # the only address any test talks to
READY_TIMEOUT = 90.0  # dfs local gives up after 60 s itself
STOP_TIMEOUT = 30.0  # dfs local gives each group of processes 10 s

_clusters = []  # every cluster started, for the failure report


def bin_dir() -> Path:
    return Path(os.environ.get("DFS_BIN_DIR", REPO / "target" / "debug"))


def binary(name: str) -> Path:
    p = bin_dir() / name
    if not p.exists():
        pytest.exit(
            f"binary {p} is missing: run `cargo build --workspace --bins` first "
            "(or set DFS_BIN_DIR)",
            returncode=1,
        )
    return p


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(")", 1)[-1].strip().startswith("Z")


class Cluster:
    def __init__(self, datanodes: int = 3, namenode_args=(), datanode_args=(), token=None,
                 namenodes: int = 1, tls: bool = False):
        self.datanodes = datanodes
        # `dfs local --tls`: every URL is https://, under the CA `ca_file`.
        self.tls = tls
        self.namenodes = namenodes
        self.namenode_args = list(namenode_args)
        self.datanode_args = list(datanode_args)
        # Accepted for the tests that hold one; readiness needs no token
        # (dfs local watches /health, open with access control on).
        self.token = token
        self.root = Path(tempfile.mkdtemp(prefix="dfs-pytest-"))
        self.ports_file = self.root / "ports.json"
        self.output = self.root / "dfs-local.log"
        self.proc = None  # the `dfs local` process
        self.doc = None  # the ports file's document, once ready
        self.failed = False

    # Where the cluster is (from the ports file).
    @property
    def url(self) -> str:
        return self.doc["namenode"]

    @property
    def nn_port(self) -> int:
        return self.doc["namenode_port"]

    @property
    def ca_file(self) -> str:
        """The CA certificate of a `tls=True` cluster (`dfs local --tls`)."""
        return self.doc["ca_file"]

    @property
    def dn_ports(self) -> list:
        return [d["port"] for d in self.doc["datanode_processes"]]

    # Several namenodes (the ports file's `namenodes` list).
    @property
    def namenode_entries(self) -> list:
        """[{name, url, port, pid, data_dir, log}] of every namenode started."""
        return self.doc.get("namenodes") or [{
            "name": "namenode", "url": self.doc["namenode"], "port": self.doc["namenode_port"],
            "pid": self.doc["namenode_pid"], "data_dir": self.doc["namenode_data_dir"],
            "log": self.doc["namenode_log"],
        }]

    @property
    def namenode_urls(self) -> list:
        return [n["url"] for n in self.namenode_entries]

    def namenode_pid(self, url: str) -> int:
        [pid] = [n["pid"] for n in self.namenode_entries if n["url"] == url]
        return pid

    def live_namenode_urls(self) -> list:
        return [u for u in self.namenode_urls if _alive(self.namenode_pid(u))]

    def namenodes_report(self, url: str):
        """`GET /api/v1/namenodes` of the namenode at `url`, or None."""
        try:
            auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            r = requests.get(f"{url}/api/v1/namenodes", headers=auth, timeout=2)
            return r.json() if r.ok else None
        except (requests.RequestException, ValueError):
            return None

    def leader_url(self, timeout: float = 15.0, besides=()) -> str:
        """The leader's URL as a running namenode names it (waits up to
        `timeout` for one; a URL in `besides` is never taken)."""
        deadline = time.monotonic() + timeout
        while True:
            for url in self.live_namenode_urls():
                rep = self.namenodes_report(url)
                leader = rep and (rep.get("leader") or
                                  (rep.get("self") if rep.get("self_role") == "leader" else None))
                if leader and leader.rstrip("/") not in besides and _alive(
                        self.namenode_pid(leader.rstrip("/"))):
                    return leader.rstrip("/")
            if time.monotonic() > deadline:
                raise AssertionError(f"no namenode leads after {timeout}s")
            time.sleep(0.1)

    def follower_urls(self) -> list:
        """The running namenodes that do not lead now."""
        leader = self.leader_url()
        return [u for u in self.live_namenode_urls() if u != leader]

    def kill_namenode(self, url: str, sig=signal.SIGKILL):
        """Sends `sig` to the namenode at `url` and, for SIGKILL, waits until
        it is gone (dfs local reaps it)."""
        pid = self.namenode_pid(url)
        os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while sig == signal.SIGKILL and _alive(pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"namenode {url} (pid {pid}) still runs after SIGKILL")
            time.sleep(0.05)

    def at(self, url: str) -> "ClusterView":
        """This cluster, reached through the namenode at `url` alone."""
        return ClusterView(self, url)

    def command(self) -> list:
        cmd = [
            str(binary("dfs")), "local",
            "--port", "0",
            "--ports-file", str(self.ports_file),
            "--data-dir", str(self.root),
            "--datanodes", str(self.datanodes),
            "--block-size", "1MiB",
            "--namenode-arg=--heartbeat-interval", "--namenode-arg=300ms",
        ]
        if self.namenodes > 1:
            cmd += ["--namenodes", str(self.namenodes)]
        if self.tls:
            cmd += ["--tls"]
        cmd += [f"--namenode-arg={a}" for a in self.namenode_args]
        cmd += [f"--datanode-arg={a}" for a in self.datanode_args]
        return cmd

    def start(self, timeout: float = READY_TIMEOUT):
        binary("namenode"), binary("datanode")  # a clear message if missing
        env = dict(os.environ, RUST_LOG=os.environ.get("DFS_TEST_LOG", "info"))
        with open(self.output, "ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.failed = True
                raise RuntimeError(
                    f"dfs local exited with {self.proc.returncode} before the cluster was ready\n"
                    + self.log_tails()
                )
            try:
                self.doc = json.loads(self.ports_file.read_text())
                return self
            except (OSError, ValueError):  # not there yet (it appears whole)
                pass
            time.sleep(0.1)
        self.failed = True
        raise RuntimeError(f"no ports file from dfs local after {timeout}s\n" + self.log_tails())

    def logs(self) -> list:
        """(name, path) of dfs local's output and every process's log."""
        found = sorted((self.root / "logs").glob("*.log"))
        return [("dfs local", self.output)] + [(p.stem, p) for p in found]

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for name, log in self.logs():
            try:
                text = log.read_text(errors="replace").splitlines()[-lines:]
            except OSError as e:
                text = [f"(cannot read {log}: {e})"]
            out.append(f"----- {name} ({log}), last {lines} lines -----")
            out.extend(text)
        return "\n".join(out)

    def stop(self):
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        # Should dfs local have been killed, its processes get SIGTERM from
        # the kernel; make sure nothing is left either way.
        pids = []
        if self.doc:
            pids = [n["pid"] for n in self.namenode_entries]
            pids += [d["pid"] for d in self.doc["datanode_processes"]]
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def cleanup(self):
        if not self.failed:
            shutil.rmtree(self.root, ignore_errors=True)


class ClusterView:
    """A cluster as a client that knows one namenode sees it: `url` and
    `nn_port` are that namenode's; everything else is the cluster's."""

    def __init__(self, cluster: Cluster, url: str):
        self.cluster = cluster
        self.url = url.rstrip("/")

    @property
    def nn_port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def __getattr__(self, name):
        return getattr(self.cluster, name)


def _start(request, **kw) -> Cluster:
    c = Cluster(**kw)
    _clusters.append(c)
    try:
        c.start()
    except BaseException:
        c.failed = True
        c.stop()
        raise
    return c


def _finish(request, c: Cluster, failed_before: int):
    c.stop()
    if request.session.testsfailed > failed_before:
        c.failed = True
    c.cleanup()


@pytest.fixture(scope="session")
def cluster(request):
    """The shared cluster: its namenode's base URL is `cluster.url`."""
    failed_before = request.session.testsfailed
    c = _start(request)
    yield c
    _finish(request, c, failed_before)


@pytest.fixture(scope="module")
def own_cluster(request):
    """A cluster for one module alone (for tests that change cluster state)."""
    failed_before = request.session.testsfailed
    c = _start(request)
    yield c
    _finish(request, c, failed_before)


@pytest.fixture(scope="module")
def ha_cluster(request):
    """Three namenodes (`dfs local --namenodes 3`) and three datanodes, for
    one module alone."""
    failed_before = request.session.testsfailed
    c = _start(request, namenodes=3)
    yield c
    _finish(request, c, failed_before)


@pytest.fixture(scope="module")
def make_cluster(request):
    """`make_cluster(namenode_args=[...], datanode_args=[...], token=...)`
    starts a cluster with extra flags; every one made is stopped when the
    module ends."""
    failed_before = request.session.testsfailed
    made = []

    def make(**kw) -> Cluster:
        c = _start(request, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        _finish(request, c, failed_before)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus == 0:
        return
    for c in _clusters:
        if c.failed and c.root.exists():  # kept because a test failed while it ran
            terminalreporter.write_sep("-", f"dfs cluster logs ({c.root}, kept)")
            terminalreporter.write_line(c.log_tails())
