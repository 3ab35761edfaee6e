"""Hadoop's own Java client, unmodified, on `hdfs://`: `FsShell` (what
`hadoop fs` runs) from the hadoop-client 3.4.1 jars PySpark 4.0.0 ships
(`scripts/hadoop-jars` extracts them; `DFS_HADOOP_JARS` names the
directory) against the namenode's Hadoop door (`dfs local` serves it; the
ports file says where, `hadoop_rpc`). Each verb's effect is checked
through WebHDFS, another door.

So far the namespace verbs, the attribute and summary ones, and the read
verbs (-get, -cat, -head, -tail, -checksum: the datanodes'
DataTransferProtocol, `--hadoop-data-listen`); the write verbs come next
(issue 24).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import binary

JARS = os.environ.get("DFS_HADOOP_JARS", "")


@pytest.fixture(scope="module")
def fs_shell(cluster, tmp_path_factory):
    if not JARS or not Path(JARS).is_dir():
        pytest.fail("DFS_HADOOP_JARS is not set: run the Python tests through scripts/test-python")
    if shutil.which("java") is None:
        pytest.fail("java is missing: apt-get install openjdk-17-jre-headless")
    conf = tmp_path_factory.mktemp("hadoop-conf")
    (conf / "core-site.xml").write_text("<configuration></configuration>\n")
    base = cluster.doc["hadoop_rpc"]
    assert base.startswith("hdfs://127.0.0.1:"), base

    def run(*args: str, raw: bool = False):
        """Runs FsShell: (exit code, stdout (bytes if `raw`), stderr)."""
        cmd = ["java", "-cp", f"{conf}:{Path(JARS).resolve()}/*",
               "org.apache.hadoop.fs.FsShell", *args]
        p = subprocess.run(cmd, capture_output=True, timeout=300,
                           env=dict(os.environ, HADOOP_USER_NAME="dfs"))
        stderr = p.stderr.decode(errors="replace")
        err = "\n".join(l for l in stderr.splitlines() if not l.startswith("SLF4J"))
        return p.returncode, p.stdout if raw else p.stdout.decode(errors="replace"), err

    run.base = base
    return run


def status(cluster, path: str):
    r = requests.get(f"{cluster.url}/webhdfs/v1{path}", params={"op": "GETFILESTATUS"},
                     timeout=30)
    return r.json()["FileStatus"] if r.status_code == 200 else None


def test_namespace_verbs(cluster, fs_shell):
    u = fs_shell.base
    rc, out, err = fs_shell("-mkdir", "-p", f"{u}/hadoop/a/b/c")
    assert rc == 0, err
    assert status(cluster, "/hadoop/a/b/c")["type"] == "DIRECTORY"

    rc, out, err = fs_shell("-ls", "-R", f"{u}/hadoop")
    assert rc == 0, err
    listed = [line.split()[-1] for line in out.splitlines() if line.startswith("d")]
    assert listed == [f"{u}/hadoop/a", f"{u}/hadoop/a/b", f"{u}/hadoop/a/b/c"], out

    rc, _, err = fs_shell("-mv", f"{u}/hadoop/a/b", f"{u}/hadoop/moved")
    assert rc == 0, err
    assert status(cluster, "/hadoop/a/b") is None
    assert status(cluster, "/hadoop/moved/c")["type"] == "DIRECTORY"

    assert fs_shell("-test", "-e", f"{u}/hadoop/moved")[0] == 0
    assert fs_shell("-test", "-e", f"{u}/hadoop/nothing")[0] == 1
    assert fs_shell("-test", "-d", f"{u}/hadoop/moved")[0] == 0

    rc, out, err = fs_shell("-stat", "%F %n", f"{u}/hadoop/moved")
    assert rc == 0, err
    assert out.strip() == "directory moved"

    rc, _, err = fs_shell("-rm", "-r", "-skipTrash", f"{u}/hadoop/moved")
    assert rc == 0, err
    assert status(cluster, "/hadoop/moved") is None

    # What is not there: Hadoop's own words.
    rc, _, err = fs_shell("-ls", f"{u}/hadoop/nothing")
    assert rc == 1
    assert "No such file or directory" in err, err
    rc, _, err = fs_shell("-mkdir", f"{u}/hadoop/x/y")
    assert rc == 1
    assert "No such file or directory" in err, err


def test_attribute_and_summary_verbs(cluster, fs_shell, tmp_path):
    u = fs_shell.base
    # A file written by dfs (the data verbs come later), then seen and
    # changed through hdfs://.
    src = tmp_path / "f.txt"
    src.write_bytes(b"x" * 3000)
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    for args in (["mkdir", "-p", "/hadoop2/d"], ["put", str(src), "/hadoop2/d/f.txt"]):
        subprocess.run([str(binary("dfs")), *args], env=env, check=True, capture_output=True)

    rc, out, err = fs_shell("-du", "-s", f"{u}/hadoop2")
    assert rc == 0, err
    assert out.split()[0] == "3000", out
    rc, out, err = fs_shell("-count", f"{u}/hadoop2")
    assert rc == 0, err
    dirs, files, size = out.split()[:3]
    assert (dirs, files, size) == ("2", "1", "3000"), out

    rc, _, err = fs_shell("-setrep", "2", f"{u}/hadoop2/d/f.txt")
    assert rc == 0, err
    assert status(cluster, "/hadoop2/d/f.txt")["replication"] == 2
    rc, _, err = fs_shell("-chmod", "600", f"{u}/hadoop2/d/f.txt")
    assert rc == 0, err
    assert status(cluster, "/hadoop2/d/f.txt")["permission"] == "600"
    rc, _, err = fs_shell("-chown", "alice:staff", f"{u}/hadoop2/d/f.txt")
    assert rc == 0, err
    st = status(cluster, "/hadoop2/d/f.txt")
    assert (st["owner"], st["group"]) == ("alice", "staff")

    rc, out, err = fs_shell("-df", f"{u}/")
    assert rc == 0, err
    assert "Filesystem" in out and "hdfs://127.0.0.1" in out, out


def dfs(cluster, *args: str):
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    subprocess.run([str(binary("dfs")), *args], env=env, check=True, capture_output=True)


def test_read_verbs_on_files_dfs_wrote(cluster, fs_shell, tmp_path):
    """-get, -cat, -head, -tail and -checksum of files `dfs put` wrote: one
    of three blocks (the last short), one small, one empty; bit-exact."""
    u = fs_shell.base
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 << 20) + b"tail")
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello hadoop\n" * 100)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    dfs(cluster, "mkdir", "-p", "/hread")
    dfs(cluster, "put", "--block-size", "8MiB", str(big), "/hread/big.bin")
    dfs(cluster, "put", str(small), "/hread/small.txt")
    dfs(cluster, "put", str(empty), "/hread/empty")

    got = tmp_path / "got.bin"
    rc, _, err = fs_shell("-get", f"{u}/hread/big.bin", str(got))
    assert rc == 0, err
    assert got.read_bytes() == big.read_bytes()
    rc, out, err = fs_shell("-cat", f"{u}/hread/small.txt", f"{u}/hread/empty", raw=True)
    assert rc == 0, err
    assert out == small.read_bytes()
    rc, out, err = fs_shell("-tail", f"{u}/hread/big.bin", raw=True)
    assert rc == 0, err
    assert out == big.read_bytes()[-1024:]
    rc, out, err = fs_shell("-head", f"{u}/hread/big.bin", raw=True)
    assert rc == 0, err
    assert out == big.read_bytes()[:1024]
    rc, out, err = fs_shell("-checksum", f"{u}/hread/big.bin")
    assert rc == 0, err
    assert "MD5-of-" in out and "CRC32C" in out, out
    # A directory is not a file; a missing one is Hadoop's own error.
    rc, _, err = fs_shell("-cat", f"{u}/hread/nothing")
    assert rc != 0 and "No such file or directory" in err, err
