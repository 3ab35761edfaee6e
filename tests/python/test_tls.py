"""TLS with real clients, unmodified: a `dfs local --tls` cluster (a
throwaway CA, HTTPS on every port, the CA in the ports file's `ca_file`)
reached by HdfsCLI and fsspec (WebHDFS, `https://`, the CA as `verify`),
boto3 (S3, `verify=` the CA), curl (`--cacert`) and the dfs CLI
(`DFS_CA_FILE`); a client that trusts only the system's roots is refused by
each.

requests lets `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE` override a session's
`verify` (some machines set them to the system bundle), so these tests
clear both, as a user pointing a session at the cluster's CA would.
"""

import hashlib
import os
import subprocess

import boto3
import fsspec
import hdfs
import pytest
import requests
from botocore.config import Config

from conftest import binary


@pytest.fixture(scope="module")
def tls_cluster(make_cluster):
    return make_cluster(tls=True)


@pytest.fixture(autouse=True)
def no_bundle_override(monkeypatch):
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)


def blob(n: int, seed: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"tls:{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def session(verify) -> requests.Session:
    s = requests.Session()
    s.verify = verify
    return s


def test_every_url_is_https_under_the_ca(tls_cluster):
    doc = tls_cluster.doc
    assert tls_cluster.url.startswith("https://127.0.0.1:")
    assert all(u.startswith("https://") for u in tls_cluster.namenode_urls)
    assert doc["s3"]["endpoint"].startswith("https://")
    assert doc["web_ui"].startswith("https://")
    assert os.path.exists(tls_cluster.ca_file)
    # WebHDFS redirects to an https:// datanode.
    r = requests.put(f"{tls_cluster.url}/webhdfs/v1/redirect.txt",
                     params={"op": "CREATE", "user.name": "dfs"},
                     allow_redirects=False, verify=tls_cluster.ca_file, timeout=30)
    assert r.status_code == 307, r.text
    assert r.headers["Location"].startswith("https://127.0.0.1:"), r.headers["Location"]


def test_hdfscli(tls_cluster):
    data = blob(3 * (1 << 20) + 11, 1)  # several 1 MiB blocks
    c = hdfs.InsecureClient(tls_cluster.url, user="dfs", session=session(tls_cluster.ca_file))
    c.makedirs("/hdfscli")
    c.write("/hdfscli/a.bin", data=data, overwrite=True)
    with c.read("/hdfscli/a.bin") as r:
        assert r.read() == data
    assert c.status("/hdfscli/a.bin")["length"] == len(data)
    assert c.list("/hdfscli") == ["a.bin"]
    # Trusting only the system's roots: refused.
    untrusting = hdfs.InsecureClient(tls_cluster.url, user="dfs", session=session(True))
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.status("/hdfscli/a.bin")


def test_fsspec(tls_cluster):
    fs = fsspec.filesystem("webhdfs", host="127.0.0.1", port=tls_cluster.nn_port,
                           use_https=True, user="dfs", session_verify=tls_cluster.ca_file,
                           skip_instance_cache=True)
    data = blob((1 << 20) + 5, 2)
    with fs.open("/fsspec/b.bin", "wb") as f:
        f.write(data)
    assert fs.cat("/fsspec/b.bin") == data
    assert fs.info("/fsspec/b.bin")["size"] == len(data)
    untrusting = fsspec.filesystem("webhdfs", host="127.0.0.1", port=tls_cluster.nn_port,
                                   use_https=True, user="dfs", skip_instance_cache=True)
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.info("/fsspec/b.bin")


def s3_client(cluster, verify):
    s3 = cluster.doc["s3"]
    return boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key"],
                        aws_secret_access_key=s3["secret"], region_name="us-east-1",
                        verify=verify, config=Config(retries={"max_attempts": 1}))


def test_boto3(tls_cluster):
    s3 = s3_client(tls_cluster, tls_cluster.ca_file)
    s3.create_bucket(Bucket="tls-bucket")
    data = blob(5 * (1 << 20) + 3, 3)
    s3.put_object(Bucket="tls-bucket", Key="k/c.bin", Body=data)
    assert s3.get_object(Bucket="tls-bucket", Key="k/c.bin")["Body"].read() == data
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="tls-bucket")["Contents"]]
    assert keys == ["k/c.bin"]
    # Multipart goes through the same door.
    s3.upload_fileobj(__import__("io").BytesIO(data), "tls-bucket", "k/m.bin",
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=1 << 20,
                                                              multipart_chunksize=5 << 20))
    assert s3.get_object(Bucket="tls-bucket", Key="k/m.bin")["Body"].read() == data
    untrusting = s3_client(tls_cluster, True)
    with pytest.raises(Exception) as e:
        untrusting.list_buckets()
    assert "SSL" in type(e.value).__name__ or "certificate" in str(e.value).lower(), e.value


def test_curl_and_the_cli(tls_cluster, tmp_path):
    src = tmp_path / "d.bin"
    data = blob(2 * (1 << 20) + 1, 4)
    src.write_bytes(data)
    env = dict(os.environ, DFS_NAMENODE=tls_cluster.url, DFS_CA_FILE=tls_cluster.ca_file)
    put = subprocess.run([str(binary("dfs")), "put", str(src), "/d.bin"], env=env,
                         capture_output=True, timeout=60, text=True)
    assert put.returncode == 0, put.stderr
    got = subprocess.run(["curl", "-sS", "--fail", "-L", "--cacert", tls_cluster.ca_file,
                          f"{tls_cluster.url}/webhdfs/v1/d.bin?op=OPEN"],
                         capture_output=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert got.stdout == data
    # Without the CA: curl and the CLI are refused, the CLI says why.
    bad = subprocess.run(["curl", "-sS", "--cacert", "/etc/ssl/certs/ca-certificates.crt",
                          f"{tls_cluster.url}/api/v1/health"], capture_output=True, timeout=60)
    assert bad.returncode != 0
    env.pop("DFS_CA_FILE")
    out = subprocess.run([str(binary("dfs")), "ls", "/"], env=env, capture_output=True,
                         timeout=60, text=True)
    assert out.returncode == 1
    assert "certificate" in out.stderr and "DFS_CA_FILE" in out.stderr, out.stderr
    # Plain HTTP to the TLS port: no HTTP answer.
    plain = tls_cluster.url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{plain}/api/v1/health", timeout=10)
