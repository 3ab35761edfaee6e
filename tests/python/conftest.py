"""A real dfs cluster for the Python tests.

`cluster` (session scope) is one namenode and three datanodes, the real
binaries from `$DFS_BIN_DIR` (default `<repo>/target/debug`; build them with
`cargo build --workspace --bins`), on free 127.0.0.1 ports in a temp dir, with
1 MiB blocks so that small test files span several blocks. `own_cluster`
(module scope) is another one for a module that changes cluster state (safe
mode, decommissioning); `make_cluster(namenode_args=[...])` starts one with
other namenode flags. Readiness is observed (`/api/v1/summary` shows every
datanode live), never slept for. Processes are stopped at the end; when a
test failed, the tail of every log is printed and the temp dir is kept.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BLOCK_SIZE = 1 << 20  # must match --block-size below
HOST = "127.0.0.1"  # the only address any test talks to

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


_used_ports = set()


def free_port() -> int:
    """A port that was free a moment ago, below Linux's ephemeral range
    (32768+) so that no outgoing connection takes it before the bind."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(2000):
        port = rng.randrange(20000, 32000)
        if port in _used_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port on 127.0.0.1 between 20000 and 32000")


class Cluster:
    def __init__(self, datanodes: int = 3, namenode_args=(), datanode_args=(), token=None):
        self.namenode_args = list(namenode_args)
        self.datanode_args = list(datanode_args)
        # Bearer token for the readiness check (access control on).
        self.token = token
        self.root = Path(tempfile.mkdtemp(prefix="dfs-pytest-"))
        (self.root / "logs").mkdir()
        self.nn_port = free_port()
        self.dn_ports = [free_port() for _ in range(datanodes)]
        self.url = f"http://{HOST}:{self.nn_port}"
        self.procs = []  # (name, Popen, log path)
        self.failed = False

    def _spawn(self, name, program, args):
        log = self.root / "logs" / f"{name}.log"
        out = open(log, "ab")
        env = dict(os.environ, RUST_LOG=os.environ.get("DFS_TEST_LOG", "info"))
        p = subprocess.Popen(
            [str(program), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        out.close()
        self.procs.append((name, p, log))

    def start(self, timeout: float = 60.0):
        self._spawn(
            "namenode",
            binary("namenode"),
            [
                "--listen", f"{HOST}:{self.nn_port}",
                "--data-dir", str(self.root / "namenode"),
                "--block-size", "1MiB",
                "--heartbeat-interval", "300ms",
                *self.namenode_args,
            ],
        )
        for i, port in enumerate(self.dn_ports):
            self._spawn(
                f"datanode-{i}",
                binary("datanode"),
                [
                    "--namenode", self.url,
                    "--listen", f"{HOST}:{port}",
                    "--data-dir", str(self.root / f"datanode-{i}"),
                    *self.datanode_args,
                ],
            )
        self.wait_live(len(self.dn_ports), timeout)
        return self

    def wait_live(self, n: int, timeout: float):
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, p, _ in self.procs:
                if p.poll() is not None:
                    self.failed = True
                    raise RuntimeError(
                        f"{name} exited with {p.returncode} during startup\n" + self.log_tails()
                    )
            try:
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                s = requests.get(f"{self.url}/api/v1/summary", headers=headers, timeout=2).json()
                if s.get("live_datanodes") == n and not s.get("safe_mode"):
                    return
                last = f"summary: {s}"
            except (requests.RequestException, ValueError) as e:
                last = repr(e)
            time.sleep(0.1)
        self.failed = True
        raise RuntimeError(f"cluster not ready after {timeout}s ({last})\n" + self.log_tails())

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for name, _, log in self.procs:
            try:
                text = log.read_text(errors="replace").splitlines()[-lines:]
            except OSError as e:
                text = [f"(cannot read {log}: {e})"]
            out.append(f"----- {name} ({log}), last {lines} lines -----")
            out.extend(text)
        return "\n".join(out)

    def stop(self):
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self):
        if not self.failed:
            shutil.rmtree(self.root, ignore_errors=True)


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
