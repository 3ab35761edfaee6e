"""Hadoop's own Java client, unmodified, on `hdfs://`: `FsShell` (what
`hadoop fs` runs) from the hadoop-client 3.4.1 jars PySpark 4.0.0 ships
(`scripts/hadoop-jars` extracts them; `DFS_HADOOP_JARS` names the
directory) against the namenode's Hadoop door (`dfs local` serves it; the
ports file says where, `hadoop_rpc`). Each verb's effect is checked
through WebHDFS, another door.

The namespace verbs, the attribute and summary ones, the read verbs (-get,
-cat, -head, -tail, -checksum) and the write verbs (-put, -cp, -appendToFile, -getmerge)
through the datanodes' DataTransferProtocol (`--hadoop-data-listen`), and a
datanode killed in the middle of a `-put` (Hadoop's pipeline recovery).
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import binary

JARS = os.environ.get("DFS_HADOOP_JARS", "")


@pytest.fixture(scope="module")
def hadoop_conf(tmp_path_factory):
    """A class path directory with an empty core-site.xml."""
    if not JARS or not Path(JARS).is_dir():
        pytest.fail("DFS_HADOOP_JARS is not set: run the Python tests through scripts/test-python")
    if shutil.which("java") is None:
        pytest.fail("java is missing: apt-get install openjdk-17-jre-headless")
    conf = tmp_path_factory.mktemp("hadoop-conf")
    (conf / "core-site.xml").write_text("<configuration></configuration>\n")
    return conf


def shell_for(cluster, conf: Path, base: str = "", env=None):
    """FsShell against `cluster`'s Hadoop door, as the user `dfs` (or with
    `env`, the whole environment: a token file for one):
    `run(*args, raw=False, stdin=None)` gives (exit code, stdout (bytes if
    `raw`), stderr); `run.base` is the `hdfs://` URL; `run.command(*args)`
    the command line (to run it in the background)."""
    base = base or cluster.doc["hadoop_rpc"]
    assert base.startswith("hdfs://"), base

    def command(*args: str) -> list:
        return ["java", "-cp", f"{conf}:{Path(JARS).resolve()}/*",
                "org.apache.hadoop.fs.FsShell", *args]

    def run(*args: str, raw: bool = False):
        p = subprocess.run(command(*args), capture_output=True, timeout=300, env=env or ENV)
        stderr = p.stderr.decode(errors="replace")
        err = "\n".join(l for l in stderr.splitlines() if not l.startswith("SLF4J"))
        return p.returncode, p.stdout if raw else p.stdout.decode(errors="replace"), err

    run.base = base
    run.command = command
    return run


ENV = dict(os.environ, HADOOP_USER_NAME="dfs")


@pytest.fixture(scope="module")
def fs_shell(cluster, hadoop_conf):
    return shell_for(cluster, hadoop_conf)


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


def sha256_of(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def dfs_out(cluster, *args: str) -> str:
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    p = subprocess.run([str(binary("dfs")), *args], env=env, check=True, capture_output=True)
    return p.stdout.decode()


def test_write_verbs(cluster, fs_shell, tmp_path):
    """-put of 200 MiB (two blocks of 128 MiB, the last short) bit-exact,
    with the file's SHA-256 as dfs records it; -put -f over it; an empty
    file; -cp; -appendToFile; -getmerge; each seen through `dfs`."""
    u = fs_shell.base
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(1 << 20))
    rc, _, err = fs_shell("-mkdir", "-p", f"{u}/hwrite")
    assert rc == 0, err
    rc, _, err = fs_shell("-put", str(big), f"{u}/hwrite/big.bin")
    assert rc == 0, err
    st = status(cluster, "/hwrite/big.bin")
    assert st["length"] == 200 << 20 and st["owner"] == "dfs", st
    # dfs's own record of the whole file's digest, carried block to block.
    assert dfs_out(cluster, "checksum", "/hwrite/big.bin").split()[0] == sha256_of(big)
    back = tmp_path / "back.bin"
    dfs(cluster, "get", "/hwrite/big.bin", str(back))
    assert sha256_of(back) == sha256_of(big)
    assert "HEALTHY" in dfs_out(cluster, "fsck", "/hwrite")
    # And back through Hadoop's own reader.
    got = tmp_path / "got.bin"
    rc, _, err = fs_shell("-get", f"{u}/hwrite/big.bin", str(got))
    assert rc == 0, err
    assert sha256_of(got) == sha256_of(big)

    small = tmp_path / "small.txt"
    small.write_bytes(b"first\n" * 1000)
    rc, _, err = fs_shell("-put", str(small), f"{u}/hwrite/small.txt")
    assert rc == 0, err
    rc, _, err = fs_shell("-put", str(small), f"{u}/hwrite/small.txt")
    assert rc != 0 and "exists" in err, err
    small.write_bytes(b"second\n" * 10)
    rc, _, err = fs_shell("-put", "-f", str(small), f"{u}/hwrite/small.txt")
    assert rc == 0, err
    assert dfs_out(cluster, "cat", "/hwrite/small.txt") == "second\n" * 10

    # A client that asks for the older CRC32 packet checksums.
    rc, _, err = fs_shell("-D", "dfs.checksum.type=CRC32", "-put", str(small),
                          f"{u}/hwrite/crc32.txt")
    assert rc == 0, err
    assert dfs_out(cluster, "cat", "/hwrite/crc32.txt") == "second\n" * 10

    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    rc, _, err = fs_shell("-put", str(empty), f"{u}/hwrite/empty")
    assert rc == 0, err
    assert status(cluster, "/hwrite/empty")["length"] == 0
    assert dfs_out(cluster, "checksum", "/hwrite/empty").split()[0] == sha256_of(empty)

    rc, _, err = fs_shell("-cp", f"{u}/hwrite/small.txt", f"{u}/hwrite/copy.txt")
    assert rc == 0, err
    assert dfs_out(cluster, "cat", "/hwrite/copy.txt") == "second\n" * 10
    # -appendToFile: onto a short last block (dfs appends by copying it),
    # onto the 200 MiB file (kept blocks, then a copied short one), and
    # onto nothing (a new file); each with the digest dfs records.
    more = tmp_path / "more.txt"
    more.write_bytes(b"appended\n" * 300)
    for name, before in (("small.txt", small.read_bytes()), ("big.bin", big.read_bytes()),
                         ("fresh.txt", b"")):
        rc, _, err = fs_shell("-appendToFile", str(more), f"{u}/hwrite/{name}")
        assert rc == 0, err
        whole = tmp_path / f"{name}.whole"
        whole.write_bytes(before + more.read_bytes())
        assert dfs_out(cluster, "checksum", f"/hwrite/{name}").split()[0] == sha256_of(whole)
        back = tmp_path / f"{name}.back"
        dfs(cluster, "get", f"/hwrite/{name}", str(back))
        assert back.read_bytes() == whole.read_bytes()
    small.write_bytes(b"second\n" * 10 + more.read_bytes())

    merged = tmp_path / "merged"
    rc, _, err = fs_shell("-getmerge", f"{u}/hwrite/small.txt", f"{u}/hwrite/copy.txt",
                          str(merged))
    assert rc == 0, err
    assert merged.read_bytes() == small.read_bytes() + b"second\n" * 10


def test_a_change_in_safe_mode_is_refused_with_the_reason(make_cluster, hadoop_conf):
    """An operator's safe mode: Hadoop's client is refused a change with
    dfs's reason (the class, SafeModeException, is checked in
    tests/tests/hadoop_rpc.rs: FsShell prints only the message), reads go
    on, and once safe mode is left the change is made."""
    c = make_cluster(datanodes=1)
    shell = shell_for(c, hadoop_conf)
    u = shell.base
    env = dict(os.environ, DFS_NAMENODE=c.url)
    enter = subprocess.run([str(binary("dfs")), "safemode", "enter"], env=env, capture_output=True)
    assert enter.returncode == 0, enter.stderr
    rc, _, err = shell("-mkdir", f"{u}/in-safe-mode")
    assert rc != 0 and "namenode is in safe mode: entered by an operator" in err, err
    rc, out, err = shell("-ls", f"{u}/")
    assert rc == 0, err
    leave = subprocess.run([str(binary("dfs")), "safemode", "leave"], env=env, capture_output=True)
    assert leave.returncode == 0, leave.stderr
    rc, _, err = shell("-mkdir", f"{u}/in-safe-mode")
    assert rc == 0, err


def fed(command: list, data: bytes, part: int, meanwhile, cluster=None):
    """Runs `command` (a `-put -` or an `-appendToFile -`) fed `data` through
    its stdin: the first `part` bytes, then `meanwhile()` (what kills a
    process), then the rest. It must succeed (else its error and, given
    `cluster`, the cluster's logs)."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)
    try:
        proc.stdin.write(data[:part])
        proc.stdin.flush()
        meanwhile()
    except BaseException:
        proc.kill()
        raise
    proc.stdin.write(data[part:])
    proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace")
    assert proc.wait(timeout=300) == 0, err + (cluster.log_tails() if cluster else "")


def test_a_datanode_killed_during_a_put(make_cluster, hadoop_conf, tmp_path):
    """Hadoop's client loses a datanode of its pipeline in the middle of a
    block (SIGKILL), recovers with the others, and the file is whole: its
    bytes and the SHA-256 dfs records."""
    c = make_cluster()
    shell = shell_for(c, hadoop_conf)
    data = os.urandom(96 << 20)

    def kill():
        time.sleep(2)
        # The first block's pipeline holds all three datanodes: kill one.
        os.kill(c.doc["datanode_processes"][1]["pid"], signal.SIGKILL)

    fed(shell.command("-put", "-", f"{shell.base}/recovered.bin"), data, 40 << 20, kill)
    local = tmp_path / "recovered.bin"
    local.write_bytes(data)
    st = status(c, "/recovered.bin")
    assert st["length"] == len(data), st
    assert dfs_out(c, "checksum", "/recovered.bin").split()[0] == sha256_of(local)
    back = tmp_path / "back.bin"
    dfs(c, "get", "/recovered.bin", str(back))
    assert back.read_bytes() == data
    # It was a recovery: a surviving datanode went on with the block.
    logs = [p.read_text(errors="replace") for name, p in c.logs() if "datanode" in name]
    assert any("pipeline recovery goes on from byte" in t for t in logs), c.log_tails()


def ha_conf(c, tmp_path, first: str) -> Path:
    """A class path directory whose core-site.xml names the nameservice
    `dfs` of `c`'s doors (Hadoop's HA client configuration), the door of
    the namenode at `first` first: the client starts with it."""
    urls = [n["url"] for n in c.namenode_entries]
    doors = [e[len("hdfs://"):] for e in c.doc["hadoop_rpc_endpoints"]]
    assert len(doors) == len(urls) > 1, doors
    order = sorted(range(len(urls)), key=lambda i: urls[i] != first)
    props = {
        "fs.defaultFS": "hdfs://dfs",
        "dfs.nameservices": "dfs",
        "dfs.ha.namenodes.dfs": ",".join(f"nn{i}" for i in order),
        "dfs.client.failover.proxy.provider.dfs":
            "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider",
        # In the order given (Hadoop 3.4 shuffles them by default).
        "dfs.client.failover.random.order": "false",
    }
    for i in order:
        props[f"dfs.namenode.rpc-address.dfs.nn{i}"] = doors[i]
    conf = tmp_path / "ha-conf"
    conf.mkdir()
    (conf / "core-site.xml").write_text(
        "<configuration>\n" + "".join(
            f"  <property><name>{k}</name><value>{v}</value></property>\n"
            for k, v in props.items()) + "</configuration>\n")
    return conf


def test_hadoop_ha_client_configuration_fails_over(ha_cluster, hadoop_conf, tmp_path):
    """Hadoop's own HA client configuration (a nameservice of the three
    namenodes' doors, ConfiguredFailoverProxyProvider) against three dfs
    namenodes: the namenode it talks to is killed (SIGKILL), and the next
    calls (-ls, -put, -get) go on through another (every door serves every
    call: a follower's hands its changes to the leader)."""
    c = ha_cluster
    leader = c.leader_url()
    shell = shell_for(c, ha_conf(c, tmp_path, first=leader), base="hdfs://dfs")
    before = tmp_path / "before.bin"
    before.write_bytes(os.urandom(3 << 20))
    rc, _, err = shell("-put", str(before), "/before.bin")
    assert rc == 0, err

    c.kill_namenode(leader)
    rc, out, err = shell("-ls", "/")
    assert rc == 0 and "/before.bin" in out, err
    after = tmp_path / "after.bin"
    after.write_bytes(os.urandom(5 << 20))
    rc, _, err = shell("-put", str(after), "/after.bin")
    assert rc == 0, err
    for name, local in (("before.bin", before), ("after.bin", after)):
        back = tmp_path / f"{name}.back"
        rc, _, err = shell("-get", f"/{name}", str(back))
        assert rc == 0, err
        assert back.read_bytes() == local.read_bytes()
    survivor = c.at(c.leader_url(besides=(leader,)))
    assert dfs_out(survivor, "checksum", "/after.bin").split()[0] == sha256_of(after)


@pytest.mark.parametrize("with_a_datanode", [False, True], ids=["alone", "with-a-datanode"])
def test_a_write_goes_on_when_its_namenode_is_killed(make_cluster, hadoop_conf, tmp_path,
                                                     with_a_datanode):
    """The namenode a Hadoop client writes through (the leader) is killed
    (SIGKILL) in the middle of a `-put` of several blocks, alone or with a
    datanode of the pipeline (then the client's pipeline recovery is what
    reaches another door first): the client fails over to another door,
    which takes the write up from the namespace (the blocks done, the
    file's digest carried across them by their datanodes) and the put ends
    whole, with the SHA-256 dfs records right."""
    c = make_cluster(namenodes=3)
    leader = c.leader_url()
    shell = shell_for(c, ha_conf(c, tmp_path, first=leader), base="hdfs://dfs")
    data = os.urandom(48 << 20)

    def kill():
        time.sleep(3)
        if with_a_datanode:
            os.kill(c.doc["datanode_processes"][1]["pid"], signal.SIGKILL)
        c.kill_namenode(leader)

    # Killed with two blocks done, the third under way.
    command = shell.command("-D", f"dfs.blocksize={8 << 20}", "-put", "-", "/failover.bin")
    fed(command, data, 20 << 20, kill, c)
    local = tmp_path / "failover.bin"
    local.write_bytes(data)
    survivor = c.at(c.leader_url(besides=(leader,)))
    st = status(survivor, "/failover.bin")
    assert st["length"] == len(data) and st["blockSize"] == 8 << 20, st
    assert dfs_out(survivor, "checksum", "/failover.bin").split()[0] == sha256_of(local)
    back = tmp_path / "back.bin"
    dfs(survivor, "get", "/failover.bin", str(back))
    assert back.read_bytes() == data
    logs = [p.read_text(errors="replace") for name, p in c.logs() if "namenode" in name]
    # Taken up with blocks already done (their digests carried across).
    took_up = [m for t in logs for m in re.findall(
        r"took up the write of /failover\.bin\._COPYING_ by \S+ \((\d+) blocks done\)", t)]
    assert took_up and int(took_up[0]) >= 1, c.log_tails()


def test_an_append_goes_on_when_its_namenode_is_killed(make_cluster, hadoop_conf, tmp_path):
    """An `-appendToFile` fed through stdin onto a file of one and a half
    blocks, the leader (the door the client talks to) killed in the middle:
    another door takes the append up (the kept block's digest carried
    across by its datanodes, the first new block a copy of the old short
    one) and the file ends as the old bytes then the new, digest right."""
    c = make_cluster(namenodes=3)
    leader = c.leader_url()
    shell = shell_for(c, ha_conf(c, tmp_path, first=leader), base="hdfs://dfs")
    old = os.urandom((12 << 20) + 12345)
    local = tmp_path / "appended.bin"
    local.write_bytes(old)
    rc, _, err = shell("-D", f"dfs.blocksize={8 << 20}", "-put", str(local), "/appended.bin")
    assert rc == 0, err
    more = os.urandom(30 << 20)

    def kill():
        time.sleep(3)
        c.kill_namenode(leader)

    # Killed with the first new block done, the second under way.
    fed(shell.command("-appendToFile", "-", "/appended.bin"), more, 10 << 20, kill, c)
    local.write_bytes(old + more)
    survivor = c.at(c.leader_url(besides=(leader,)))
    assert status(survivor, "/appended.bin")["length"] == len(old) + len(more)
    assert dfs_out(survivor, "checksum", "/appended.bin").split()[0] == sha256_of(local)
    back = tmp_path / "back.bin"
    dfs(survivor, "get", "/appended.bin", str(back))
    assert back.read_bytes() == old + more
    logs = [p.read_text(errors="replace") for name, p in c.logs() if "namenode" in name]
    assert any("took up the write of /appended.bin by" in t for t in logs), c.log_tails()


def test_a_failed_over_writer_keeps_its_lease_while_it_stalls(make_cluster, tmp_path):
    """After its namenode is lost, a writer that stalls longer than dfs's
    lease lasts (6 s here) keeps its file: its lease renewals reach another
    door, which serves none of its writes yet and keeps its user's writes
    alive until the writer calls about them (then takes the write up)."""
    c = make_cluster(namenodes=3, namenode_args=["--lease-timeout", "6s"])
    leader = c.leader_url()
    conf = ha_conf(c, tmp_path, first=leader)
    # Hadoop's client renews its leases every half RPC timeout (2 s here).
    text = (conf / "core-site.xml").read_text().replace(
        "</configuration>",
        "  <property><name>ipc.client.rpc-timeout.ms</name><value>4000</value></property>\n"
        "</configuration>")
    (conf / "core-site.xml").write_text(text)
    shell = shell_for(c, conf, base="hdfs://dfs")
    data = os.urandom(20 << 20)

    def kill_then_stall():
        time.sleep(3)
        c.kill_namenode(leader)
        time.sleep(15)  # over twice the lease: only the renewals keep the file

    command = shell.command("-D", f"dfs.blocksize={8 << 20}", "-put", "-", "/stalled.bin")
    fed(command, data, 12 << 20, kill_then_stall, c)
    local = tmp_path / "stalled.bin"
    local.write_bytes(data)
    survivor = c.at(c.leader_url(besides=(leader,)))
    assert dfs_out(survivor, "checksum", "/stalled.bin").split()[0] == sha256_of(local)


def received(cluster, i: int) -> int:
    """Block bytes datanode `i` has received (its /metrics)."""
    addr = cluster.doc["datanode_processes"][i]["address"]
    text = requests.get(f"http://{addr}/metrics", timeout=10).text
    return sum(int(float(l.split()[-1])) for l in text.splitlines()
               if l.startswith("dfs_datanode_bytes_received_total"))


def test_a_pipeline_that_loses_a_node_takes_another(make_cluster, hadoop_conf, tmp_path):
    """With Hadoop's replace-datanode-on-failure policy at ALWAYS, a
    pipeline node killed in the middle of a -put is replaced: the door
    names a fourth datanode (getAdditionalDatanode), a surviving node copies
    the acknowledged bytes to it (TRANSFER_BLOCK, TRANSFER_RBW), and the
    write goes on with three. The file is whole."""
    c = make_cluster(datanodes=4)
    shell = shell_for(c, hadoop_conf)
    data = os.urandom(64 << 20)
    cmd = shell.command("-D", "dfs.client.block.write.replace-datanode-on-failure.policy=ALWAYS",
                        "-put", "-", f"{shell.base}/replaced.bin")
    pipeline = []

    def kill_a_pipeline_node():
        deadline = time.monotonic() + 30
        while True:
            pipeline[:] = [i for i in range(4) if received(c, i) > 0]
            if len(pipeline) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(pipeline) == 3, pipeline
        os.kill(c.doc["datanode_processes"][pipeline[0]]["pid"], signal.SIGKILL)

    fed(cmd, data, 24 << 20, kill_a_pipeline_node)
    [spare] = [i for i in range(4) if i not in pipeline]
    local = tmp_path / "replaced.bin"
    local.write_bytes(data)
    assert dfs_out(c, "checksum", "/replaced.bin").split()[0] == sha256_of(local)
    back = tmp_path / "back.bin"
    dfs(c, "get", "/replaced.bin", str(back))
    assert back.read_bytes() == data
    # The spare took the block: the copy, then the rest of the write.
    assert received(c, spare) > 0
    logs = {name: p.read_text(errors="replace") for name, p in c.logs()}
    assert any("more datanode(s) for its pipeline" in t for t in logs.values()), c.log_tails()
