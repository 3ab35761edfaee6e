"""Real Hadoop clients against a real local dfs cluster, unmodified:
HdfsCLI (`pip install hdfs`, `hdfs.InsecureClient`) and fsspec's `webhdfs`
filesystem, plus curl's two-step CREATE / OPEN. They speak WebHDFS
(`/webhdfs/v1`), as they would to Hadoop.

What each client sends (read from their sources): HdfsCLI adds
`user.name=tester` to every request; CREATE is a PUT without redirects
followed by a PUT of the body to the `Location` header (307), APPEND the same
with POST, OPEN a GET that follows the redirect; booleans go as `True` /
`False`. fsspec writes with CREATE (`overwrite=true`), an empty PUT to the
datanode, then one APPEND POST per buffered block, and reads ranges with
OPEN `offset`/`length` without following redirects. Files here span several
1 MiB dfs blocks.
"""

import hashlib
import os
import shutil
import subprocess

import fsspec
import pytest
import requests
from hdfs import HdfsError, InsecureClient

from conftest import BLOCK_SIZE

USER = "tester"


def blob(n: int, seed: int) -> bytes:
    """Deterministic bytes, so a failure reproduces."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- HdfsCLI


@pytest.fixture(scope="module")
def client(cluster):
    c = InsecureClient(cluster.url, user=USER, timeout=120)
    c.makedirs("/hc")
    return c


def read_all(client, path, **kw) -> bytes:
    with client.read(path, **kw) as r:
        return r.read()


def test_hdfscli_makedirs_and_status(client):
    client.makedirs("/hc/dir/sub/leaf")
    st = client.status("/hc/dir/sub")
    assert st["type"] == "DIRECTORY"
    assert st["pathSuffix"] == ""
    assert st["owner"] == USER, f"user.name should be recorded as the owner: {st}"
    for key in ("accessTime", "blockSize", "group", "length", "modificationTime",
                "owner", "pathSuffix", "permission", "replication", "type"):
        assert key in st, f"FileStatus lacks {key}: {st}"
    client.makedirs("/hc/dir/sub/leaf")  # again: fine


def test_hdfscli_write_bytes_multi_block_and_read(client):
    data = blob(2 * BLOCK_SIZE + 333_333, 1)
    client.write("/hc/bytes.bin", data=data)
    st = client.status("/hc/bytes.bin")
    assert st["type"] == "FILE"
    assert st["length"] == len(data)
    assert st["owner"] == USER
    assert read_all(client, "/hc/bytes.bin") == data


def test_hdfscli_write_refuses_then_overwrites(client):
    client.write("/hc/over.bin", data=b"first version")
    with pytest.raises(HdfsError) as e:
        client.write("/hc/over.bin", data=b"second")
    assert e.value.exception == "FileAlreadyExistsException", (e.value.exception, e.value.message)
    new = blob(BLOCK_SIZE + 7, 2)
    client.write("/hc/over.bin", data=new, overwrite=True)
    assert read_all(client, "/hc/over.bin") == new
    assert client.status("/hc/over.bin")["length"] == len(new)


def test_hdfscli_write_from_file_and_writer(client, tmp_path):
    data = blob(3 * BLOCK_SIZE + 1, 3)
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    with open(local, "rb") as f:
        client.write("/hc/fromfile.bin", data=f)
    assert read_all(client, "/hc/fromfile.bin") == data
    # The context-manager writer streams a generator (chunked body).
    with client.write("/hc/writer.txt", encoding="utf-8") as w:
        for i in range(2000):
            w.write(f"line {i}\n")
    text = "".join(f"line {i}\n" for i in range(2000))
    assert read_all(client, "/hc/writer.txt", encoding="utf-8") == text


def test_hdfscli_append(client):
    base = blob(BLOCK_SIZE - 100, 4)
    client.write("/hc/append.bin", data=base)
    more1 = blob(250, 5)  # crosses the first block boundary
    more2 = blob(BLOCK_SIZE + 50, 6)  # spans a whole block more
    client.write("/hc/append.bin", data=more1, append=True)
    client.write("/hc/append.bin", data=more2, append=True)
    client.write("/hc/append.bin", data=b"", append=True)  # an empty append
    want = base + more1 + more2
    assert client.status("/hc/append.bin")["length"] == len(want)
    assert read_all(client, "/hc/append.bin") == want
    assert client.checksum("/hc/append.bin")["bytes"].lower() == sha(want)


def test_hdfscli_read_offset_length(client):
    data = blob(2 * BLOCK_SIZE + 1000, 7)
    client.write("/hc/ranges.bin", data=data, overwrite=True)
    for off, length in [(0, 10), (BLOCK_SIZE - 5, 10), (BLOCK_SIZE, BLOCK_SIZE),
                        (123, 2 * BLOCK_SIZE), (len(data) - 1, 1)]:
        got = read_all(client, "/hc/ranges.bin", offset=off, length=length)
        assert got == data[off:off + length], f"offset={off} length={length}: got {len(got)} bytes"
    assert read_all(client, "/hc/ranges.bin", offset=BLOCK_SIZE + 17) == data[BLOCK_SIZE + 17:]
    with client.read("/hc/ranges.bin", chunk_size=65536) as chunks:
        assert b"".join(chunks) == data


def test_hdfscli_list_content_checksum(client):
    client.makedirs("/hc/listme/inner")
    client.write("/hc/listme/a.txt", data=b"aaaa")
    client.write("/hc/listme/b.bin", data=blob(BLOCK_SIZE + 1, 8))
    assert client.list("/hc/listme") == ["a.txt", "b.bin", "inner"]
    entries = dict(client.list("/hc/listme", status=True))
    assert entries["a.txt"]["type"] == "FILE" and entries["a.txt"]["length"] == 4
    assert entries["inner"]["type"] == "DIRECTORY"
    with pytest.raises(HdfsError, match="not a directory"):
        client.list("/hc/listme/a.txt")  # a file lists as one entry with pathSuffix ""

    cs = client.content("/hc/listme")
    assert cs["length"] == 4 + BLOCK_SIZE + 1
    assert cs["fileCount"] == 2
    assert cs["directoryCount"] == 2  # itself and inner, as Hadoop counts
    assert cs["spaceConsumed"] == 3 * (4 + BLOCK_SIZE + 1)

    ck = client.checksum("/hc/listme/b.bin")
    assert ck["algorithm"] == "SHA-256"
    assert ck["bytes"].lower() == sha(blob(BLOCK_SIZE + 1, 8))
    assert ck["length"] == 32


def test_hdfscli_sees_quotas_and_their_errors(client, cluster):
    """A quota set with WebHDFS SETQUOTA (HdfsCLI has no call for it) shows in
    HdfsCLI's content summary, and what would break it fails with Hadoop's
    exception, unchanged; `delete` stays immediate (no trash behind it)."""
    client.makedirs("/hc/quota")
    r = requests.put(
        f"{cluster.url}/webhdfs/v1/hc/quota",
        params={"op": "SETQUOTA", "namespacequota": 3, "storagespacequota": 3 * BLOCK_SIZE},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    cs = client.content("/hc/quota")
    assert (cs["quota"], cs["spaceQuota"]) == (3, 3 * BLOCK_SIZE)
    client.write("/hc/quota/a.txt", data=b"a")
    with pytest.raises(HdfsError, match="space quota of /hc/quota is exceeded"):
        # A second block at replication 3 would take 6 blocks' worth.
        client.write("/hc/quota/big.bin", data=blob(BLOCK_SIZE + 1, 11))
    assert client.status("/hc/quota/big.bin", strict=False) is None
    client.makedirs("/hc/quota/d")  # the third name
    with pytest.raises(HdfsError, match="name quota"):
        client.makedirs("/hc/quota/e")
    assert client.delete("/hc/quota/d") is True
    trash = requests.get(f"{cluster.url}/webhdfs/v1/?op=GETTRASHROOT", timeout=30).json()
    assert client.status(trash["Path"] + "/Current/hc/quota/d", strict=False) is None


def test_hdfscli_rename(client):
    client.write("/hc/ren-src.txt", data=b"moving")
    client.rename("/hc/ren-src.txt", "/hc/ren-dst.txt")
    assert client.status("/hc/ren-src.txt", strict=False) is None
    assert read_all(client, "/hc/ren-dst.txt") == b"moving"
    client.makedirs("/hc/ren-dir")
    client.rename("/hc/ren-dst.txt", "/hc/ren-dir")  # into an existing directory
    assert read_all(client, "/hc/ren-dir/ren-dst.txt") == b"moving"
    client.write("/hc/ren-other.txt", data=b"x")
    with pytest.raises(HdfsError):  # onto an existing file: RENAME answers false
        client.rename("/hc/ren-other.txt", "/hc/ren-dir/ren-dst.txt")


def test_hdfscli_set_replication(client):
    client.write("/hc/rep.bin", data=blob(BLOCK_SIZE + 5, 9))
    assert client.status("/hc/rep.bin")["replication"] == 3
    client.set_replication("/hc/rep.bin", 2)
    assert client.status("/hc/rep.bin")["replication"] == 2


def test_hdfscli_delete(client):
    client.makedirs("/hc/del/a/b")
    client.write("/hc/del/a/b/f.bin", data=blob(BLOCK_SIZE * 2, 10))
    client.write("/hc/del/top.txt", data=b"t")
    with pytest.raises(HdfsError):
        client.delete("/hc/del")  # not empty, not recursive
    assert client.delete("/hc/del/top.txt") is True
    assert client.delete("/hc/del", recursive=True) is True
    assert client.status("/hc/del", strict=False) is None
    assert client.delete("/hc/del", recursive=True) is False  # already gone


def test_hdfscli_upload_download_directory(client, tmp_path):
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello a\n")
    (src / "nested" / "big.bin").write_bytes(blob(2 * BLOCK_SIZE + 99, 11))
    (src / "nested" / "deeper" / "c.txt").write_bytes(b"")
    assert client.upload("/hc/up", str(src)) == "/hc/up"
    assert sorted(client.list("/hc/up")) == ["a.txt", "nested"]

    out = tmp_path / "out"
    assert client.download("/hc/up", str(out)) == str(out)
    assert _same_tree(src, out), sorted(str(p) for p in out.rglob("*"))

    # Again with overwrite: the destination exists, so HdfsCLI uploads to a
    # temporary path, deletes the old tree and renames the new one in.
    client.upload("/hc/up2", str(src))
    (src / "nested" / "deeper" / "c.txt").write_bytes(b"new c")
    (src / "a.txt").write_bytes(b"changed\n")
    assert client.upload("/hc/up2", str(src / "nested"), overwrite=True) == "/hc/up2/nested"
    assert client.upload("/hc/up2", str(src / "a.txt"), overwrite=True) == "/hc/up2/a.txt"
    assert sorted(client.list("/hc/up2")) == ["a.txt", "nested"]  # no temp leftovers
    out2 = tmp_path / "out2"
    client.download("/hc/up2", str(out2))
    assert _same_tree(src, out2)
    with pytest.raises(HdfsError):
        client.upload("/hc/up2", str(src / "a.txt"))  # exists, no overwrite
    with pytest.raises(HdfsError):
        client.download("/hc/up2/a.txt", str(out2 / "a.txt"))  # exists locally, no overwrite
    (src / "a.txt").write_bytes(b"third\n")
    client.upload("/hc/up2/a.txt", str(src / "a.txt"), overwrite=True)
    client.download("/hc/up2/a.txt", str(out2 / "a.txt"), overwrite=True)
    assert (out2 / "a.txt").read_bytes() == b"third\n"


def _same_tree(a, b) -> bool:
    files_a = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    files_b = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    if files_a != files_b:
        return False
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_hdfscli_missing_path_errors(client):
    with pytest.raises(HdfsError) as e:
        client.status("/hc/no/such/file")
    assert e.value.exception == "FileNotFoundException", (e.value.exception, e.value.message)
    assert "does not exist" in e.value.message
    with pytest.raises(HdfsError) as e:
        read_all(client, "/hc/no-such-file")
    assert e.value.exception == "FileNotFoundException"
    with pytest.raises(HdfsError) as e:
        client.list("/hc/no-such-dir")
    assert "does not exist" in e.value.message
    assert client.status("/hc/no-such-file", strict=False) is None
    assert client.content("/hc/no-such-file", strict=False) is None
    with pytest.raises(HdfsError):
        client.checksum("/hc/no-such-file")


# ---------------------------------------------------------------- fsspec


@pytest.fixture(scope="module")
def fs(cluster):
    f = fsspec.filesystem(
        "webhdfs", host="127.0.0.1", port=cluster.nn_port, user=USER, skip_instance_cache=True
    )
    f.mkdir("/fs")
    return f


def test_fsspec_mkdir_ls_info(fs):
    fs.mkdir("/fs/d1")
    fs.makedirs("/fs/d2/deep", exist_ok=True)
    assert fs.ls("/fs") == ["/fs/d1", "/fs/d2"]
    detail = fs.ls("/fs", detail=True)
    assert [d["type"] for d in detail] == ["directory", "directory"]
    info = fs.info("/fs/d2")
    assert info["type"] == "directory" and info["size"] == 0
    assert fs.isdir("/fs/d2/deep") and not fs.isfile("/fs/d2/deep")


def test_fsspec_write_multi_block_and_read(fs):
    data = blob(3 * BLOCK_SIZE + 54321, 20)
    # block_size is fsspec's write buffer: one APPEND POST per MiB.
    with fs.open("/fs/big.bin", "wb", block_size=BLOCK_SIZE) as f:
        for i in range(0, len(data), 300_000):
            f.write(data[i:i + 300_000])
    info = fs.info("/fs/big.bin")
    assert info["type"] == "file" and info["size"] == len(data)
    with fs.open("/fs/big.bin", "rb") as f:
        assert f.read() == data
    with fs.open("/fs/big.bin", "rb", block_size=100_000) as f:
        f.seek(BLOCK_SIZE - 10)
        assert f.read(20) == data[BLOCK_SIZE - 10:BLOCK_SIZE + 10]
        f.seek(-5, 2)
        assert f.read() == data[-5:]
    assert fs.cat_file("/fs/big.bin") == data
    assert fs.ukey("/fs/big.bin")["bytes"].lower() == sha(data)
    # A file lists as itself, with an empty pathSuffix (fsspec then names it
    # "/fs/big.bin/", as it does against Hadoop).
    [entry] = fs.ls("/fs/big.bin", detail=True)
    assert entry["pathSuffix"] == "" and entry["type"] == "file" and entry["size"] == len(data)


def test_fsspec_cat_file_ranges(fs):
    data = blob(2 * BLOCK_SIZE + 4242, 21)
    fs.pipe_file("/fs/ranges.bin", data)
    cases = [(0, 1), (10, 20), (BLOCK_SIZE - 3, BLOCK_SIZE + 3), (BLOCK_SIZE, 2 * BLOCK_SIZE),
             (5, None), (None, 100), (-100, None), (-200, -100), (len(data) - 1, len(data))]
    for start, end in cases:
        got = fs.cat_file("/fs/ranges.bin", start=start, end=end)
        assert got == data[start:end], f"start={start} end={end}: {len(got)} bytes"


def test_fsspec_small_write_overwrite_and_mv(fs):
    fs.pipe_file("/fs/small.txt", b"one")
    fs.pipe_file("/fs/small.txt", b"two, longer")  # CREATE with overwrite=true
    assert fs.cat_file("/fs/small.txt") == b"two, longer"
    with fs.open("/fs/empty.txt", "wb"):
        pass
    assert fs.info("/fs/empty.txt")["size"] == 0
    assert fs.cat_file("/fs/empty.txt") == b""
    fs.mv("/fs/small.txt", "/fs/d1/moved.txt")
    assert not fs.exists("/fs/small.txt")
    assert fs.cat_file("/fs/d1/moved.txt") == b"two, longer"


def test_fsspec_rm(fs):
    fs.pipe_file("/fs/gone/a.txt", b"a")
    fs.pipe_file("/fs/gone/sub/b.txt", b"b")
    fs.rm("/fs/gone/a.txt")
    assert not fs.exists("/fs/gone/a.txt")
    fs.rm("/fs/gone", recursive=True)
    assert not fs.exists("/fs/gone")


def test_fsspec_missing_path_is_file_not_found(fs):
    with pytest.raises(FileNotFoundError):
        fs.info("/fs/missing.bin")
    with pytest.raises(FileNotFoundError):
        fs.ls("/fs/missing-dir")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("/fs/missing.bin")
    with pytest.raises(FileNotFoundError):
        fs.open("/fs/missing.bin", "rb")
    assert not fs.exists("/fs/missing.bin")


# ---------------------------------------------------------------- curl and raw shapes


def test_curl_create_open_round_trip(cluster, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    data = blob(2 * BLOCK_SIZE + 77, 30)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    url = f"{cluster.url}/webhdfs/v1/curl/x.bin"
    put = subprocess.run(
        ["curl", "-sS", "-f", "-L", "-T", str(src), f"{url}?op=CREATE&user.name={USER}"],
        capture_output=True, timeout=120,
    )
    assert put.returncode == 0, put.stderr.decode()
    out = tmp_path / "out.bin"
    get = subprocess.run(
        ["curl", "-sS", "-f", "-L", "-o", str(out), f"{url}?op=OPEN"],
        capture_output=True, timeout=120,
    )
    assert get.returncode == 0, get.stderr.decode()
    assert out.read_bytes() == data


def test_redirects_and_noredirect(cluster):
    url = f"{cluster.url}/webhdfs/v1/raw/n.txt"
    r = requests.put(url, params={"op": "CREATE", "user.name": USER}, allow_redirects=False)
    assert r.status_code == 307, (r.status_code, r.text)
    loc = r.headers["Location"]
    assert loc.startswith("http://127.0.0.1:")
    r2 = requests.put(loc, data=b"via location")
    assert r2.status_code == 201, (r2.status_code, r2.text)

    r = requests.put(url, params={"op": "CREATE", "overwrite": "true", "noredirect": "true"})
    assert r.status_code == 200, (r.status_code, r.text)
    assert set(r.json()) == {"Location"}
    assert requests.put(r.json()["Location"], data=b"second").status_code == 201

    r = requests.get(url, params={"op": "OPEN", "noredirect": "true"})
    assert r.status_code == 200 and set(r.json()) == {"Location"}, r.text
    assert requests.get(r.json()["Location"]).content == b"second"


def test_error_shape_is_remote_exception(cluster):
    r = requests.get(f"{cluster.url}/webhdfs/v1/raw/none", params={"op": "GETFILESTATUS"})
    assert r.status_code == 404, r.text
    body = r.json()
    assert set(body) == {"RemoteException"}
    ex = body["RemoteException"]
    assert ex["exception"] == "FileNotFoundException"
    assert ex["javaClassName"] == "java.io.FileNotFoundException"
    assert "does not exist" in ex["message"]


def test_open_of_a_directory_is_file_not_found(cluster):
    """Hadoop: OPEN on a directory is 404 FileNotFoundException "Path is not a
    file", which fsspec turns into FileNotFoundError."""
    requests.put(f"{cluster.url}/webhdfs/v1/raw/adir", params={"op": "MKDIRS"}).raise_for_status()
    r = requests.get(f"{cluster.url}/webhdfs/v1/raw/adir", params={"op": "OPEN"}, allow_redirects=False)
    assert r.status_code == 404, r.text
    ex = r.json()["RemoteException"]
    assert ex["exception"] == "FileNotFoundException"
    assert "is not a file" in ex["message"]


# ---------------------------------------------------------------- data through the namenode


def test_data_steps_via_namenode(make_cluster, tmp_path):
    """`--webhdfs-data-via-namenode`: every Location points at the namenode's
    own port, so a client that reaches only that port (NAT, containers)
    still writes, appends and reads."""
    c = make_cluster(namenode_args=["--webhdfs-data-via-namenode"])
    nn = f"127.0.0.1:{c.nn_port}"
    r = requests.put(f"{c.url}/webhdfs/v1/nat/f.bin", params={"op": "CREATE", "noredirect": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["Location"].startswith(f"http://{nn}/"), r.json()

    hc = InsecureClient(c.url, user=USER, timeout=120)
    data = blob(2 * BLOCK_SIZE + 10, 40)
    hc.write("/nat/f.bin", data=data, overwrite=True)
    hc.write("/nat/f.bin", data=b"tail", append=True)
    assert read_all(hc, "/nat/f.bin") == data + b"tail"
    assert read_all(hc, "/nat/f.bin", offset=BLOCK_SIZE - 2, length=4) == data[BLOCK_SIZE - 2:BLOCK_SIZE + 2]
    for op, method in (("OPEN", "GET"), ("APPEND", "POST")):
        r = requests.request(method, f"{c.url}/webhdfs/v1/nat/f.bin", params={"op": op}, allow_redirects=False)
        assert r.status_code == 307, (op, r.status_code, r.text)
        assert r.headers["Location"].startswith(f"http://{nn}/"), (op, r.headers["Location"])

    f = fsspec.filesystem("webhdfs", host="127.0.0.1", port=c.nn_port, user=USER, skip_instance_cache=True)
    with f.open("/nat/fs.bin", "wb", block_size=BLOCK_SIZE) as w:
        w.write(data)
    assert f.cat_file("/nat/fs.bin", start=5, end=BLOCK_SIZE + 5) == data[5:BLOCK_SIZE + 5]
