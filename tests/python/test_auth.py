"""HdfsCLI against a dfs cluster with access control on (namenode `--auth`,
datanodes `--cluster-secret-file`): its `TokenClient` sends the token as
WebHDFS's `delegation` parameter on every request; writes and reads go
through the namenode's redirects to the datanodes, which take the data only
with the signed token the namenode put in the redirect. Without a token, or
with a wrong one, every call fails with 401; a user without write permission
gets 403 (HdfsCLI's `HdfsError`)."""

import pytest
import requests
from hdfs import InsecureClient, TokenClient
from hdfs.util import HdfsError

SECRET = "python-test-cluster-secret-0123"
ROOT = "root-python-token-0123456789"
ALICE = "alice-python-token-0123456789"


@pytest.fixture(scope="module")
def secured(make_cluster, tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    (d / "secret").write_text(SECRET + "\n")
    (d / "users.toml").write_text(
        f'cluster_secret_file = "secret"\n'
        f'[users.root]\ntoken = "{ROOT}"\nsuperuser = true\n'
        f'[users.alice]\ntoken = "{ALICE}"\n'
    )
    return make_cluster(
        namenode_args=["--auth", str(d / "users.toml")],
        datanode_args=["--cluster-secret-file", str(d / "secret")],
        token=ROOT,
    )


def test_hdfscli_token_client_round_trip(secured):
    root = TokenClient(secured.url, ROOT)
    root.makedirs("/alice")
    root.set_owner("/alice", owner="alice")
    alice = TokenClient(secured.url, ALICE)
    data = bytes(range(256)) * 9000  # ~2.2 MiB: three 1 MiB blocks
    alice.write("/alice/data.bin", data=data)
    with alice.read("/alice/data.bin") as r:
        assert r.read() == data
    with alice.read("/alice/data.bin", offset=1000, length=10) as r:
        assert r.read() == data[1000:1010]
    status = alice.status("/alice/data.bin")
    assert status["owner"] == "alice"
    assert status["permission"] == "644"
    assert alice.list("/alice") == ["data.bin"]
    alice.write("/alice/data.bin", data=b"more", append=True)
    assert alice.status("/alice/data.bin")["length"] == len(data) + 4
    assert alice.checksum("/alice/data.bin")["algorithm"] == "SHA-256"
    alice.rename("/alice/data.bin", "/alice/renamed.bin")
    assert alice.delete("/alice/renamed.bin")


def test_hdfscli_without_or_with_a_wrong_token_is_refused(secured):
    for client in (InsecureClient(secured.url, user="alice"), TokenClient(secured.url, "wrong-token")):
        with pytest.raises(HdfsError) as e:
            client.list("/")
        assert "authentication" in str(e.value).lower() or "token" in str(e.value).lower()
    r = requests.get(f"{secured.url}/webhdfs/v1/?op=LISTSTATUS")
    assert r.status_code == 401
    assert r.json()["RemoteException"]["exception"] == "SecurityException"


def test_hdfscli_permission_denied_is_403(secured):
    alice = TokenClient(secured.url, ALICE)
    with pytest.raises(HdfsError) as e:
        alice.write("/not-alices.txt", data=b"x")  # / is the superuser's (755)
    assert "Permission denied" in str(e.value)
    r = requests.put(
        f"{secured.url}/webhdfs/v1/not-alices?op=MKDIRS", params={"delegation": ALICE}
    )
    assert r.status_code == 403
    assert r.json()["RemoteException"]["exception"] == "AccessControlException"


def test_hdfscli_upload_of_a_folder_makes_parents_the_writers(secured, tmp_path):
    """HdfsCLI's `upload` of a folder writes file by file (WebHDFS CREATE),
    each making the directories on its way: they are the writer's, as with
    `mkdir -p`, so the next file goes into them and she can remove them
    (they used to be the superuser's: the second file was refused)."""
    root = TokenClient(secured.url, ROOT)
    root.makedirs("/user/alice")
    root.set_owner("/user/alice", owner="alice")
    alice = TokenClient(secured.url, ALICE)
    folder = tmp_path / "photos"
    files = {
        "2024/a.jpg": b"a" * 1000,
        "2024/b.jpg": b"b",
        "2025/deep/c.jpg": bytes(range(256)) * 4100,  # two 1 MiB blocks
    }
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    assert alice.upload("/user/alice/photos", str(folder)) == "/user/alice/photos"
    for d in ("", "/2024", "/2025", "/2025/deep"):
        status = alice.status("/user/alice/photos" + d)
        assert status["type"] == "DIRECTORY"
        assert status["owner"] == "alice", d
    for rel, data in files.items():
        with alice.read("/user/alice/photos/" + rel) as r:
            assert r.read() == data
    # She writes into what the upload made, and removes it all.
    alice.write("/user/alice/photos/2024/new.jpg", data=b"new")
    assert sorted(alice.list("/user/alice/photos/2024")) == ["a.jpg", "b.jpg", "new.jpg"]
    assert alice.delete("/user/alice/photos", recursive=True)
    assert alice.list("/user/alice") == []


def test_s3_keys_act_as_their_user(secured):
    """An S3 key acts as its user: the same permission checks as every
    other door (alice writes under /alice, not into root's bucket)."""
    import subprocess
    import json

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from conftest import binary

    # dfs local serves S3 even with access control on; with no superuser
    # token given to it, it made no key: make alice's as root.
    endpoint = secured.doc["s3_endpoint"]
    assert "s3" not in secured.doc
    env = {"DFS_NAMENODE": secured.url, "DFS_TOKEN": ROOT, "PATH": "/usr/bin:/bin"}
    made = subprocess.run([str(binary("dfs")), "--json", "s3", "key", "create", "alice"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    # alice may not make keys for others.
    other = subprocess.run([str(binary("dfs")), "s3", "key", "create", "root"],
                           env=dict(env, DFS_TOKEN=ALICE), capture_output=True, text=True, timeout=60)
    assert other.returncode != 0
    root = TokenClient(secured.url, ROOT)
    root.makedirs("/alicebkt")
    root.set_owner("/alicebkt", owner="alice")
    root.makedirs("/rootbkt")
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      aws_access_key_id=key["access_key"], aws_secret_access_key=key["secret"],
                      region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    s3.put_object(Bucket="alicebkt", Key="a/b.txt", Body=b"alice's")
    assert root.status("/alicebkt/a/b.txt")["owner"] == "alice"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="rootbkt", Key="x", Body=b"no")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert root.status("/rootbkt/x", strict=False) is None
    assert s3.get_object(Bucket="alicebkt", Key="a/b.txt")["Body"].read() == b"alice's"


def test_an_s3_key_of_a_revoked_user_stops_working(make_cluster, tmp_path_factory):
    """A user taken out of the users file (and the namenode sent SIGHUP)
    is refused through S3 too: the door acts as the key's user, whom the
    namenode looks up on every request."""
    import json
    import os
    import signal
    import subprocess
    import time

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from conftest import binary

    carol = "carol-python-token-0123456789"
    d = tmp_path_factory.mktemp("revoke")
    (d / "secret").write_text(SECRET + "\n")
    users = d / "users.toml"
    head = f'cluster_secret_file = "secret"\n[users.root]\ntoken = "{ROOT}"\nsuperuser = true\n'
    users.write_text(head + f'[users.carol]\ntoken = "{carol}"\n')
    c = make_cluster(namenode_args=["--auth", str(users)],
                     datanode_args=["--cluster-secret-file", str(d / "secret")], token=ROOT)
    env = {"DFS_NAMENODE": c.url, "DFS_TOKEN": ROOT, "PATH": "/usr/bin:/bin"}
    made = subprocess.run([str(binary("dfs")), "--json", "s3", "key", "create", "carol"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    root = TokenClient(c.url, ROOT)
    root.makedirs("/carolbkt")
    root.set_owner("/carolbkt", owner="carol")
    s3 = boto3.client("s3", endpoint_url=c.doc["s3_endpoint"],
                      aws_access_key_id=key["access_key"], aws_secret_access_key=key["secret"],
                      region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    s3.put_object(Bucket="carolbkt", Key="before", Body=b"ok")

    users.write_text(head)  # carol is gone
    os.kill(c.doc["namenode_pid"], signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.put_object(Bucket="carolbkt", Key="after", Body=b"no")
        except ClientError as e:
            assert e.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId"), e.response
            break
        assert time.monotonic() < deadline, "carol's key still works 30 s after the reload"
        root.delete("/carolbkt/after")
        time.sleep(0.2)
    with pytest.raises(ClientError):
        s3.get_object(Bucket="carolbkt", Key="before")
    assert root.status("/carolbkt/before")["length"] == 2
