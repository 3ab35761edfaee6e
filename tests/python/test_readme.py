"""Every README walkthrough, run as written, in README order, against a fresh
cluster: the CLI, curl against the seed endpoints, the cluster API
(`/api/v1`), WebHDFS with curl, and the Python snippet (HdfsCLI, fsspec,
pandas).

The fenced blocks are taken from README.md by their section headings; a
missing heading or block fails the test, so a renamed section cannot be
skipped silently. The only rewriting is of addresses: the namenode's port for
9870 and a real datanode's address for 127.0.0.1:9866. `dfs` is on PATH and
`DFS_NAMENODE` is set, as the README tells the user; curl fails on HTTP
errors through a `.curlrc` (`fail-with-body`), so the curl lines stay as
written. The test provides the user's own local files the walkthroughs name
(big.iso, ./photos, src/, notes.txt, ...); everything on the cluster is made
by the walkthroughs themselves.

Each sh line runs as its own `bash -o pipefail -c`, with the block's variable
assignments (NN=, W=) carried along; a failing step fails the test with the
command, its exit code and its output.
"""

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import HOST, REPO, bin_dir

README = REPO / "README.md"

# (heading, language of its fenced blocks, how many such blocks it has)
SECTIONS = [
    ("## Walkthrough: the CLI", "sh", 1),
    ("## Walkthrough: curl against the seed endpoints", "sh", 1),
    ("## Walkthrough: the cluster API (`/api/v1`)", "sh", 1),
    ("## Walkthrough: WebHDFS (curl, HdfsCLI, fsspec, pandas)", "sh", 1),
    ("## Walkthrough: WebHDFS (curl, HdfsCLI, fsspec, pandas)", "python", 1),
]

STEP_TIMEOUT = 180  # seconds; no README step should come near it
MiB = 1 << 20


def blob(n: int, seed: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def section_text(readme: str, heading: str) -> str:
    """The text under `heading` (a whole line) up to the next `## ` heading."""
    lines = readme.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    assert len(starts) == 1, (
        f"README.md should have exactly one heading {heading!r}, has {len(starts)}: "
        "a renamed walkthrough must be renamed in tests/python/test_readme.py too"
    )
    body = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("## "):
            break
        body.append(line)
    return "".join(body)


def fenced_blocks(text: str, lang: str) -> list:
    return re.findall(rf"^```{re.escape(lang)}[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S)


def walkthrough_blocks(readme: str) -> list:
    """[(label, lang, text)] in README order."""
    found = []
    for heading, lang, count in SECTIONS:
        body = section_text(readme, heading)
        blocks = fenced_blocks(body, lang)
        assert len(blocks) == count, (
            f"README.md section {heading!r} should have {count} ```{lang} block(s), has {len(blocks)}"
        )
        for b in blocks:
            pos = readme.index(b, readme.index(heading + "\n"))
            found.append((pos, f"{heading[3:]} ({lang})", lang, b))
    found.sort(key=lambda t: t[0])
    return [(label, lang, text) for _, label, lang, text in found]


def substitute(text: str, nn_port: int, dn_addr: str) -> str:
    """Only the addresses: a real datanode for 127.0.0.1:9866, the real
    namenode port for 9870."""
    text = text.replace("127.0.0.1:9866", dn_addr)
    return re.sub(r"(?<![0-9])9870(?![0-9])", str(nn_port), text)


def sh_steps(block: str):
    """(assignments so far, command) for each command line of a sh block.
    A line ending in a backslash continues on the next."""
    assigns = []
    pending = ""
    for raw in block.splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", stripped):
            assigns.append(stripped)
            continue
        yield list(assigns), stripped
    assert not pending, f"a sh block ends in a line continuation: {block!r}"


def tail(text: str, n: int = 6000) -> str:
    return text if len(text) <= n else "...\n" + text[-n:]


def make_user_files(work: Path) -> dict:
    """The user's own local files that the walkthroughs name."""
    files = {
        "big.iso": blob(3 * MiB + 12_345, 1),  # several 1 MiB blocks
        "notes.txt": b"shopping: milk, bread\ncall Ana back\nread chapter 3\n",
        "report.pdf": b"%PDF-1.4\n% a stand-in report\n" + blob(200_000, 2) + b"\n%%EOF\n",
        "app.log": b"2026-01-01T00:00:00Z start\n",
        "more.log": b"2026-01-01T00:00:01Z more\n2026-01-01T00:00:02Z and more\n",
        "photos/beach.jpg": blob(150_000, 3),
        "photos/city.jpg": blob(90_000, 4),
        "photos/2025/snow.png": blob(40_000, 5),
        "src/main.rs": b'fn main() {\n    println!("hello");\n}\n',
        "src/lib/util.rs": b"pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    }
    for name, data in files.items():
        p = work / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def test_readme_walkthroughs_run_as_written(own_cluster, tmp_path):
    cluster = own_cluster
    readme = README.read_text(encoding="utf-8")
    blocks = walkthrough_blocks(readme)
    assert [label for label, _, _ in blocks] == [
        f"{h[3:]} ({lang})" for h, lang, _ in SECTIONS
    ], "the walkthroughs are no longer in the order they build on each other"

    work = tmp_path / "work"
    work.mkdir()
    files = make_user_files(work)

    curl_home = tmp_path / "curl-home"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text("fail-with-body\nsilent\nshow-error\n")

    env = dict(os.environ)
    env.pop("DFS_TOKEN", None)
    env.update(
        PATH=f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}",
        DFS_NAMENODE=cluster.url,
        CURL_HOME=str(curl_home),
        PYTHONUNBUFFERED="1",
    )
    dn_addr = f"{HOST}:{cluster.dn_ports[0]}"

    transcript = []  # every step, for the failure message and the -s output

    def run(label, cmd_display, argv, **kw):
        t0 = time.monotonic()
        try:
            p = subprocess.run(
                argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT, **kw,
            )
        except subprocess.TimeoutExpired as e:
            out = (e.output or b"").decode(errors="replace")
            pytest.fail(
                f"README walkthrough {label!r}: step did not finish in {STEP_TIMEOUT}s\n"
                f"$ {cmd_display}\n{tail(out)}",
                pytrace=False,
            )
        out = p.stdout.decode(errors="replace")
        took = time.monotonic() - t0
        transcript.append(f"[{took:5.2f}s rc={p.returncode}] $ {cmd_display}")
        print(transcript[-1])
        if p.returncode != 0:
            pytest.fail(
                f"README walkthrough {label!r}: a step failed with exit code {p.returncode}\n"
                f"$ {cmd_display}\n"
                f"----- its output -----\n{tail(out)}\n"
                f"----- the steps before it -----\n" + "\n".join(transcript[:-1]),
                pytrace=False,
            )
        return out

    steps = 0
    for label, lang, text in blocks:
        text = substitute(text, cluster.nn_port, dn_addr)
        if lang == "sh":
            for assigns, cmd in sh_steps(text):
                script = "\n".join(assigns + [cmd]) + "\n"
                run(label, cmd, ["bash", "-o", "pipefail", "-c", script])
                steps += 1
        else:
            script = work / "walkthrough.py"
            script.write_text(text)
            run(label, f"{sys.executable} walkthrough.py  # the ```python block", [sys.executable, str(script)])
            steps += 1
    assert steps >= 40, f"only {steps} steps ran: the README's blocks were not all found"

    # What the walkthroughs did, checked from outside (bytes round-tripped,
    # the cluster left usable for whatever the user does next).
    big = files["big.iso"]
    assert (work / "copy.iso").read_bytes() == big, "copy.iso (WebHDFS OPEN) differs from big.iso"
    assert (work / "part.bin").read_bytes() == big[MiB:MiB + 4096]
    assert (work / "report.pdf").read_bytes() == files["report.pdf"]
    assert (work / "nn.dfsck").stat().st_size > 0

    w = f"{cluster.url}/webhdfs/v1"

    def read(path):
        r = requests.get(f"{w}{path}?op=OPEN", timeout=60)
        r.raise_for_status()
        return r.content

    assert read("/data/app.log") == files["app.log"] + files["more.log"]
    assert read("/data/log.txt") == b"first\nmore\n"
    assert read("/data/out.bin") == b"..."
    assert read("/data/photos/beach.jpg") == files["photos/beach.jpg"]
    assert read("/data/photos/2025/snow.png") == files["photos/2025/snow.png"]
    assert b"Oslo" in read("/data/table.csv") and b"Lima" in read("/data/copy.csv")
    trash = requests.get(f"{w}/user/dfs/.Trash?op=GETFILESTATUS", timeout=30)
    assert trash.status_code == 404, f"`dfs expunge` should have emptied the trash: {trash.text}"
    gone = requests.get(f"{w}/archive?op=GETFILESTATUS", timeout=30)
    assert gone.status_code == 404, f"/archive should be deleted: {gone.status_code} {gone.text}"
    s = requests.get(f"{cluster.url}/api/v1/summary", timeout=30).json()
    assert not s.get("safe_mode"), f"the walkthroughs leave the cluster in safe mode: {s}"
    dns = requests.get(f"{cluster.url}/api/v1/datanodes", timeout=30).json()
    print(f"{steps} steps; datanodes: {dns}")
