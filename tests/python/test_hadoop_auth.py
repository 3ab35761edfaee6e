"""Hadoop's own Java client on `hdfs://` with access control on (namenode
`--auth`): a token file from `dfs hadoop-token`, named by
`HADOOP_TOKEN_FILE_LOCATION`, is what Hadoop's client proves (SASL
DIGEST-MD5) and the door then acts as the token's owner, with that user's
rights, on the namenode and on the datanodes' Hadoop ports (block tokens).
SIMPLE (a name without proof) is refused, and so are a wrong password, an
expired token, a token of a user taken out of the users file, and a token
for another door.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests
from urllib.parse import parse_qs, urlparse

from conftest import Cluster, binary
from test_hadoop_rpc import ha_conf, hadoop_conf, shell_for  # noqa: F401 (a fixture)

SECRET = "hadoop-auth-secret-0123456789"
ROOT = "root-hadoop-token-0123456789"
ALICE = "alice-hadoop-token-0123456789"
BOB = "bob-hadoop-token-0123456789"


def users_text(with_bob: bool = True) -> str:
    text = (f'cluster_secret_file = "secret"\n'
            f'[users.root]\ntoken = "{ROOT}"\nsuperuser = true\n'
            f'[users.alice]\ntoken = "{ALICE}"\n')
    return text + (f'[users.bob]\ntoken = "{BOB}"\n' if with_bob else "")


@pytest.fixture(scope="module")
def secured(make_cluster, tmp_path_factory):
    d = tmp_path_factory.mktemp("hadoop-auth")
    (d / "secret").write_text(SECRET + "\n")
    (d / "users.toml").write_text(users_text())
    c = make_cluster(
        namenode_args=["--auth", str(d / "users.toml")],
        datanode_args=["--cluster-secret-file", str(d / "secret")],
        token=ROOT,
    )
    c.users_file = d / "users.toml"
    for args in (["mkdir", "-p", "/home/alice", "/private"], ["chown", "alice", "/home/alice"],
                 ["chmod", "700", "/private"]):
        assert dfs_as(c, ROOT, *args).returncode == 0
    return c


def dfs_as(cluster, token, *args):
    env = dict(os.environ, DFS_NAMENODE=cluster.url, DFS_TOKEN=token)
    env.pop("DFS_CA_FILE", None)
    return subprocess.run([str(binary("dfs")), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def door(cluster) -> str:
    """The door's `ip:port` (the token's service)."""
    return cluster.doc["hadoop_rpc"].removeprefix("hdfs://")


def token_file(cluster, token, path, *extra):
    p = dfs_as(cluster, token, "hadoop-token", str(path), *extra)
    assert p.returncode == 0, p.stderr
    assert f"HADOOP_TOKEN_FILE_LOCATION={path}" in p.stdout
    assert os.stat(path).st_mode & 0o777 == 0o600
    return path


def shell_with(cluster, conf, token_path=None, user=None):
    env = dict(os.environ)
    env.pop("HADOOP_TOKEN_FILE_LOCATION", None)
    env.pop("HADOOP_USER_NAME", None)
    if token_path:
        env["HADOOP_TOKEN_FILE_LOCATION"] = str(token_path)
    if user:
        env["HADOOP_USER_NAME"] = user
    return shell_for(cluster, conf, env=env)


def test_a_token_lets_hadoops_client_in_as_its_owner(secured, hadoop_conf, tmp_path):
    alice = shell_with(secured, hadoop_conf, token_file(secured, ALICE, tmp_path / "alice.token"))
    u = alice.base
    data = os.urandom(3_000_000)  # three blocks of 1 MiB
    local = tmp_path / "three.bin"
    local.write_bytes(data)

    rc, _, err = alice("-put", str(local), f"{u}/home/alice/three.bin")
    assert rc == 0, err
    st = json.loads(dfs_as(secured, ROOT, "--json", "stat", "/home/alice/three.bin").stdout)
    assert (st["owner"], st["length"]) == ("alice", len(data)), st
    rc, out, err = alice("-cat", f"{u}/home/alice/three.bin", raw=True)
    assert rc == 0 and out == data, err
    more = tmp_path / "more.txt"
    more.write_bytes(b"appended\n")
    rc, _, err = alice("-appendToFile", str(more), f"{u}/home/alice/three.bin")
    assert rc == 0, err
    rc, out, err = alice("-checksum", f"{u}/home/alice/three.bin")
    assert rc == 0 and "MD5-of-" in out, err
    # dfs recorded the digest of what Hadoop's client wrote, append and all.
    st = json.loads(dfs_as(secured, ROOT, "--json", "stat", "/home/alice/three.bin").stdout)
    assert st["sha256"] == hashlib.sha256(data + b"appended\n").hexdigest(), st

    # Alice's rights, not more: root's private directory is closed to her.
    rc, _, err = alice("-ls", f"{u}/private")
    assert rc != 0 and "Permission denied: user=alice" in err, err
    rc, _, err = alice("-put", str(more), f"{u}/private/x")
    assert rc != 0 and "Permission denied" in err, err
    assert dfs_as(secured, ROOT, "test", "-e", "/private/x").returncode == 1

    # SIMPLE is refused whoever it names (root included), with what to do.
    for user in (None, "root"):
        rc, _, err = shell_with(secured, hadoop_conf, user=user)("-ls", f"{u}/private")
        assert rc != 0 and "dfs hadoop-token" in err, err


SPARK_JOB = """
import sys
from pyspark.sql import SparkSession
base = sys.argv[1]
s = (SparkSession.builder.master("local[2]").appName("dfs-auth")
     .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
     .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
df = s.range(20000).selectExpr("id", "id * 2 as doubled")
df.write.mode("overwrite").parquet(base + "/home/alice/table")
back = s.read.parquet(base + "/home/alice/table")
assert back.count() == 20000 and back.exceptAll(df).count() == 0
try:
    df.write.parquet(base + "/private/table")
    print("WROTE-PRIVATE")
except Exception as e:
    print("REFUSED", "Permission denied" in str(e))
s.stop()
print("DONE")
"""


def test_spark_with_a_token(secured, tmp_path):
    """Spark in local mode (its own JVM, PySpark's Hadoop client) with
    alice's token file: a DataFrame written as Parquet under her home and
    read back equal, owned by her; root's private directory refused."""
    token = token_file(secured, ALICE, tmp_path / "alice.token")
    job = tmp_path / "job.py"
    job.write_text(SPARK_JOB)
    env = dict(os.environ, HADOOP_TOKEN_FILE_LOCATION=str(token), SPARK_LOCAL_IP="127.0.0.1")
    env.pop("HADOOP_USER_NAME", None)
    p = subprocess.run([sys.executable, str(job), secured.doc["hadoop_rpc"]], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "DONE" in p.stdout, p.stdout + p.stderr[-3000:]
    assert "REFUSED True" in p.stdout, p.stdout
    st = json.loads(dfs_as(secured, ROOT, "--json", "stat", "/home/alice/table").stdout)
    assert st["owner"] == "alice", st
    assert dfs_as(secured, ROOT, "test", "-e", "/private/table").returncode == 1


def test_wrong_expired_revoked_and_misdirected_tokens_are_refused(secured, hadoop_conf, tmp_path):
    u = secured.doc["hadoop_rpc"]
    good = token_file(secured, ALICE, tmp_path / "alice.token")

    # The password's last byte changed (it comes just before the kind).
    raw = bytearray(good.read_bytes())
    at = raw.index(b"\x1a\x15HDFS_DELEGATION_TOKEN") - 1
    raw[at] ^= 1
    bad = tmp_path / "bad.token"
    bad.write_bytes(bytes(raw))
    rc, _, err = shell_with(secured, hadoop_conf, bad)("-ls", f"{u}/")
    assert rc != 0 and "password is wrong" in err, err

    short = token_file(secured, ALICE, tmp_path / "short.token", "--lifetime", "1s")
    time.sleep(1.5)
    rc, _, err = shell_with(secured, hadoop_conf, short)("-ls", f"{u}/")
    assert rc != 0 and "expired" in err, err

    # A token for another door is not offered to this one.
    elsewhere = token_file(secured, ALICE, tmp_path / "elsewhere.token", "--service", "127.0.0.1:1")
    rc, _, err = shell_with(secured, hadoop_conf, elsewhere)("-ls", f"{u}/")
    assert rc != 0 and "cannot authenticate via:[TOKEN]" in err, err

    # Not for a derived credential: the token of a WebHDFS redirect (an
    # hour's) cannot buy a Hadoop token (days').
    small = tmp_path / "small.txt"
    small.write_bytes(b"small\n")
    assert dfs_as(secured, ROOT, "put", "-f", str(small), "/small.txt").returncode == 0
    r = requests.get(f"{secured.url}/webhdfs/v1/small.txt", params={"op": "OPEN"},
                     headers={"Authorization": f"Bearer {ALICE}"}, allow_redirects=False,
                     timeout=30)
    assert r.status_code == 307, r.text
    derived = parse_qs(urlparse(r.headers["Location"]).query)["delegation"][0]
    p = dfs_as(secured, derived, "hadoop-token", str(tmp_path / "derived.token"))
    assert p.returncode != 0 and "user's own token" in p.stderr, p.stderr
    assert not (tmp_path / "derived.token").exists()

    # Out of bounds: a lifetime over 7 days.
    p = dfs_as(secured, ALICE, "hadoop-token", str(tmp_path / "long.token"), "--lifetime", "8d")
    assert p.returncode != 0 and "between" in p.stderr, p.stderr

    # Bob's token works until bob is taken out of the users file.
    bob = shell_with(secured, hadoop_conf, token_file(secured, BOB, tmp_path / "bob.token"))
    rc, out, err = bob("-ls", f"{u}/")
    assert rc == 0, err
    secured.users_file.write_text(users_text(with_bob=False))
    os.kill(secured.doc["namenode_pid"], signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        rc, _, err = bob("-ls", f"{u}/")
        if rc != 0:
            assert "bob is not a user" in err, err
            break
        assert time.monotonic() < deadline, "bob's token still works 30 s after the reload"
        time.sleep(0.5)
    rc, _, err = shell_with(secured, hadoop_conf, good)("-ls", f"{u}/")
    assert rc == 0, err


def test_a_nameservice_token_through_a_failover(make_cluster, hadoop_conf, tmp_path, monkeypatch):
    """Three namenodes with access control on (`dfs local` finds the leader
    with DFS_TOKEN): one token for the nameservice (`--service
    ha-hdfs:dfs`) that Hadoop's HA client gives every door, and the door
    the client talks to killed: the next one checks the same token (nothing
    is stored per token) and the client goes on as alice."""
    d = tmp_path / "auth"
    d.mkdir()
    (d / "secret").write_text(SECRET + "\n")
    (d / "users.toml").write_text(users_text())
    monkeypatch.setenv("DFS_TOKEN", ROOT)
    c = make_cluster(namenodes=3, namenode_args=["--auth", str(d / "users.toml")],
                     datanode_args=["--cluster-secret-file", str(d / "secret")], token=ROOT)
    assert dfs_as(c, ROOT, "mkdir", "-p", "/home/alice").returncode == 0
    assert dfs_as(c, ROOT, "chown", "alice", "/home/alice").returncode == 0
    leader = c.leader_url()
    token = token_file(c, ALICE, tmp_path / "ns.token", "--service", "ha-hdfs:dfs")
    env = dict(os.environ, HADOOP_TOKEN_FILE_LOCATION=str(token))
    env.pop("HADOOP_USER_NAME", None)
    shell = shell_for(c, ha_conf(c, tmp_path, first=leader), base="hdfs://dfs", env=env)
    local = tmp_path / "before.bin"
    local.write_bytes(os.urandom(2 << 20))
    rc, _, err = shell("-put", str(local), "/home/alice/before.bin")
    assert rc == 0, err
    c.kill_namenode(leader)
    rc, _, err = shell("-put", str(local), "/home/alice/after.bin")
    assert rc == 0, err
    rc, out, err = shell("-ls", "/home/alice")
    assert rc == 0 and out.count(" alice ") == 2, out + err
    rc, _, err = shell("-put", str(local), "/not-alices.bin")
    assert rc != 0 and "Permission denied: user=alice" in err, err


def test_several_namenodes_with_access_control_need_dfs_token_to_start(tmp_path, monkeypatch):
    """Without DFS_TOKEN, `dfs local` cannot ask which of several secured
    namenodes leads: it says so at once rather than wait its timeout."""
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "users.toml").write_text(users_text())
    monkeypatch.delenv("DFS_TOKEN", raising=False)
    c = Cluster(namenodes=3, datanodes=1,
                namenode_args=["--auth", str(tmp_path / "users.toml")],
                datanode_args=["--cluster-secret-file", str(tmp_path / "secret")])
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="finds the leader with DFS_TOKEN"):
            c.start()
    finally:  # a failure expected: nothing kept
        c.stop()
        shutil.rmtree(c.root, ignore_errors=True)
    assert time.monotonic() - started < 60


def test_without_access_control_there_is_no_token_to_get(cluster, tmp_path):
    p = dfs_as(cluster, "unused", "hadoop-token", str(tmp_path / "t"))
    assert p.returncode != 0 and "access control is off" in p.stderr, p.stderr
    assert not (tmp_path / "t").exists()
