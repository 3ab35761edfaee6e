"""The S3 door with real S3 clients, unmodified: boto3 (every operation of
the contract), the aws CLI, and the same files read through the other
doors (WebHDFS, the dfs CLI). `dfs local` serves S3 on a free port and
writes the endpoint and a key pair into its ports file (`doc["s3"]`).

What boto3 sends (botocore 1.44, read from its behaviour here): SigV4 in
the Authorization header; PutObject and UploadPart over plain HTTP as
`STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer (its default
`request_checksum_calculation=when_supported`), DeleteObjects with a
checksum header, list calls with `encoding-type=url` (keys decoded with
`unquote_plus`).
"""

import hashlib
import json
import os
import shutil
import subprocess
import uuid

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import binary

MiB = 1 << 20


def blob(n: int, seed: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"s3:{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def client(cluster, secret=None, **config):
    s3 = cluster.doc["s3"]
    return boto3.client(
        "s3",
        endpoint_url=s3["endpoint"],
        aws_access_key_id=s3["access_key"],
        aws_secret_access_key=secret or s3["secret"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture
def s3(cluster):
    return client(cluster)


@pytest.fixture
def bucket(s3):
    """A fresh bucket, emptied and removed after the test."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    s3.delete_bucket(Bucket=name)


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def webhdfs_read(cluster, path: str) -> bytes:
    r = requests.get(f"{cluster.url}/webhdfs/v1{path}", params={"op": "OPEN"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.content


def test_buckets(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert code_of(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code_of(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert code_of(e) == "InvalidBucketName"


def test_put_get_head_metadata_and_other_doors(cluster, s3, bucket):
    data = blob(3 * MiB + 123, 1)
    r = s3.put_object(
        Bucket=bucket, Key="dir/sub/obj.bin", Body=data,
        ContentType="text/x-test", Metadata={"owner": "ann", "run": "7"},
    )
    md5 = hashlib.md5(data).hexdigest()
    assert r["ETag"] == f'"{md5}"'
    g = s3.get_object(Bucket=bucket, Key="dir/sub/obj.bin")
    assert g["Body"].read() == data
    assert g["ETag"] == f'"{md5}"'
    assert g["ContentType"] == "text/x-test"
    assert g["Metadata"] == {"owner": "ann", "run": "7"}
    assert g["ContentLength"] == len(data)
    h = s3.head_object(Bucket=bucket, Key="dir/sub/obj.bin")
    assert h["ContentLength"] == len(data) and h["ETag"] == f'"{md5}"'
    # The same file through WebHDFS, bit for bit.
    assert webhdfs_read(cluster, f"/{bucket}/dir/sub/obj.bin") == data
    # And a file written through WebHDFS reads through S3.
    other = blob(MiB + 5, 2)
    url = f"{cluster.url}/webhdfs/v1/{bucket}/from-webhdfs.bin"
    put = requests.put(url, params={"op": "CREATE", "user.name": "dfs"}, data=other, timeout=60)
    assert put.status_code == 201, put.text
    got = s3.get_object(Bucket=bucket, Key="from-webhdfs.bin")
    assert got["Body"].read() == other
    # Not an MD5 (it was not written through S3): the multipart form,
    # which clients do not check as one.
    assert got["ETag"].endswith('-1"')
    assert got["ContentType"] == "binary/octet-stream"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/missing")
    assert code_of(e) == "NoSuchKey"
    # Overwrite.
    s3.put_object(Bucket=bucket, Key="dir/sub/obj.bin", Body=b"short")
    assert s3.get_object(Bucket=bucket, Key="dir/sub/obj.bin")["Body"].read() == b"short"


def test_empty_object_and_folder_marker(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    g = s3.get_object(Bucket=bucket, Key="empty")
    assert g["Body"].read() == b"" and g["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    s3.head_object(Bucket=bucket, Key="folder/")


def test_ranges_and_conditions(s3, bucket):
    data = blob(2 * MiB + 10, 3)
    etag = s3.put_object(Bucket=bucket, Key="r.bin", Body=data)["ETag"]
    for rng, want in [
        ("bytes=0-9", data[:10]),
        (f"bytes={MiB - 5}-{MiB + 5}", data[MiB - 5:MiB + 6]),
        ("bytes=-7", data[-7:]),
        (f"bytes={len(data) - 3}-", data[-3:]),
    ]:
        g = s3.get_object(Bucket=bucket, Key="r.bin", Range=rng)
        assert g["Body"].read() == want, rng
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert g["ContentRange"].endswith(f"/{len(data)}")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(data)}-")
    assert code_of(e) == "InvalidRange"
    assert s3.get_object(Bucket=bucket, Key="r.bin", IfMatch=etag)["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r.bin", IfMatch='"0123"')
    assert code_of(e) in ("PreconditionFailed", "412")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r.bin", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_presigned_urls(cluster, bucket):
    s3 = client(cluster, signature_version="s3v4")
    data = blob(100_000, 4)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre.bin"}, ExpiresIn=300)
    assert requests.put(put_url, data=data, timeout=60).status_code == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre.bin"}, ExpiresIn=300)
    r = requests.get(get_url, timeout=60)
    assert r.status_code == 200 and r.content == data
    # A changed URL is refused, and nothing is written through it.
    bad = put_url.replace("pre.bin", "other.bin")
    r = requests.put(bad, data=b"x", timeout=60)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="other.bin")


def test_signature_v2(cluster, bucket):
    """boto3 presigns with V2 unless told otherwise, and `signature_version
    ='s3'` signs every request so: both work."""
    default = client(cluster)
    data = blob(50_000, 5)
    default.put_object(Bucket=bucket, Key="v2/a.bin", Body=data)
    url = default.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "v2/a.bin"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url, url
    r = requests.get(url, timeout=60)
    assert r.status_code == 200 and r.content == data, r.text[:300]
    r = requests.get(url.replace("v2/a.bin", "v2/b.bin"), timeout=60)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    v2 = client(cluster, signature_version="s3")
    v2.put_object(Bucket=bucket, Key="v2/c.bin", Body=data, Metadata={"m": "x"})
    g = v2.get_object(Bucket=bucket, Key="v2/c.bin")
    assert g["Body"].read() == data and g["Metadata"] == {"m": "x"}
    uid = v2.create_multipart_upload(Bucket=bucket, Key="v2/mp")["UploadId"]
    e = v2.upload_part(Bucket=bucket, Key="v2/mp", UploadId=uid, PartNumber=1, Body=data)["ETag"]
    v2.complete_multipart_upload(Bucket=bucket, Key="v2/mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="v2/")["Contents"]] == \
        ["v2/a.bin", "v2/c.bin", "v2/mp"]
    wrong = client(cluster, secret="nope", signature_version="s3")
    with pytest.raises(ClientError) as e:
        wrong.list_objects(Bucket=bucket)
    assert code_of(e) == "SignatureDoesNotMatch"


def test_multipart_out_of_order_and_abort(cluster, s3, bucket):
    parts = [blob(5 * MiB, 10 + i) for i in range(3)] + [blob(1234, 13)]
    mp = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj", ContentType="application/x-mp",
                                    Metadata={"k": "v"})
    uid = mp["UploadId"]
    etags = {}
    for n in [3, 1, 4, 2]:
        etags[n] = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=n,
                                  Body=parts[n - 1])["ETag"]
        assert etags[n] == f'"{hashlib.md5(parts[n - 1]).hexdigest()}"'
    listed = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3, 4]
    assert [p["Size"] for p in listed] == [len(p) for p in parts]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/obj", uid)]
    # The staging area is no key.
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # Wrong ETag, wrong order, a small middle part: refused, nothing made.
    for bad, code in [
        ([(1, '"00"'), (2, etags[2])], "InvalidPart"),
        ([(2, etags[2]), (1, etags[1])], "InvalidPartOrder"),
        ([(1, etags[1]), (3, etags[3]), (2, etags[2])], "InvalidPartOrder"),
        ([(1, etags[1]), (4, etags[4]), (2, etags[2])], "EntityTooSmall"),
    ]:
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="mp/obj", UploadId=uid,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in bad]})
        assert code_of(e) == code
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp/obj")
    r = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/obj", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in [1, 2, 3, 4]]})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    want_etag = f'"{hashlib.md5(md5s).hexdigest()}-4"'
    assert r["ETag"] == want_etag
    whole = b"".join(parts)
    g = s3.get_object(Bucket=bucket, Key="mp/obj")
    assert g["Body"].read() == whole
    assert g["ETag"] == want_etag and g["ContentType"] == "application/x-mp"
    assert g["Metadata"] == {"k": "v"}
    assert webhdfs_read(cluster, f"/{bucket}/mp/obj") == whole
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)
    assert code_of(e) == "NoSuchUpload"
    # Abort.
    uid2 = s3.create_multipart_upload(Bucket=bucket, Key="mp/aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp/aborted", UploadId=uid2, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp/aborted", UploadId=uid2)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp/aborted")


def test_transfer_manager_and_upload_part_copy(s3, bucket, tmp_path):
    src = tmp_path / "big.bin"
    data = blob(21 * MiB, 20)
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(src), bucket, "tm/big.bin", Config=cfg)
    out = tmp_path / "out.bin"
    s3.download_file(bucket, "tm/big.bin", str(out), Config=cfg)
    assert out.read_bytes() == data
    uid = s3.create_multipart_upload(Bucket=bucket, Key="tm/copied")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="tm/copied", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "tm/big.bin"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    p2 = s3.upload_part_copy(Bucket=bucket, Key="tm/copied", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "tm/big.bin"},
                             CopySourceRange=f"bytes={20 * MiB}-{21 * MiB - 1}")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="tm/copied", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="tm/copied")["Body"].read()
    assert got == data[:5 * MiB] + data[20 * MiB:]


def test_copy_object(s3, bucket):
    data = blob(MiB + 3, 30)
    s3.put_object(Bucket=bucket, Key="src/a", Body=data, ContentType="text/a", Metadata={"m": "1"})
    r = s3.copy_object(Bucket=bucket, Key="dst/a", CopySource={"Bucket": bucket, "Key": "src/a"})
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    h = s3.head_object(Bucket=bucket, Key="dst/a")
    assert h["Metadata"] == {"m": "1"} and h["ContentType"] == "text/a"
    s3.copy_object(Bucket=bucket, Key="dst/b", CopySource=f"{bucket}/src/a",
                   MetadataDirective="REPLACE", ContentType="text/b", Metadata={"n": "2"})
    h = s3.head_object(Bucket=bucket, Key="dst/b")
    assert h["Metadata"] == {"n": "2"} and h["ContentType"] == "text/b"
    assert s3.get_object(Bucket=bucket, Key="dst/b")["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src/a", CopySource={"Bucket": bucket, "Key": "src/a"})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert code_of(e) == "NoSuchKey"


def test_listing_2500_keys_paginated(s3, bucket):
    keys = sorted(
        [f"k{i:04}" for i in range(1500)]
        + [f"d{i % 10}/x{i:04}" for i in range(1000)]
    )
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    seen = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1000}):
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys and pages == 3
    v1 = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 700}):
        v1 += [o["Key"] for o in page.get("Contents", [])]
    assert v1 == keys
    # With a delimiter: ten prefixes and 1500 keys, in S3's order.
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 400}):
        items += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        items += [o["Key"] for o in page.get("Contents", [])]
    want = sorted([f"d{i}/" for i in range(10)] + [f"k{i:04}" for i in range(1500)])
    assert sorted(items) == want and len(items) == len(want)
    r = s3.list_objects_v2(Bucket=bucket, Prefix="d3/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == [k for k in keys if k.startswith("d3/")]
    for k in ["deep/er/still/1", "deep/er/still/2", "deep/er/x"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"d")
    r = s3.list_objects_v2(Bucket=bucket, Prefix="deep/er/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["deep/er/x"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["deep/er/still/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="deep/er/st")
    assert [o["Key"] for o in r["Contents"]] == ["deep/er/still/1", "deep/er/still/2"]
    for k in ["deep/er/still/1", "deep/er/still/2", "deep/er/x"]:
        s3.delete_object(Bucket=bucket, Key=k)
    r = s3.list_objects_v2(Bucket=bucket, Prefix="d3/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == [k for k in keys if k.startswith("d3/")]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="k14", MaxKeys=5, StartAfter="k1410")
    assert [o["Key"] for o in r["Contents"]] == ["k1411", "k1412", "k1413", "k1414", "k1415"]
    assert r["IsTruncated"]


def test_key_order_and_odd_characters(s3, bucket):
    keys = ["a-c", "a/b", "a+b c", "a%20", "é/ü.txt", "a=b&c"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert got == sorted(keys, key=lambda k: k.encode())
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()


def test_delete_objects_and_empty_prefixes(s3, bucket):
    for k in ["p/q/1", "p/q/2", "p/r", "top"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "p/q/1"}, {"Key": "p/q/2"}, {"Key": "never-was"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["never-was", "p/q/1", "p/q/2"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="p/", Delimiter="/")
    assert [o["Key"] for o in r.get("Contents", [])] == ["p/r"]
    assert r.get("CommonPrefixes", []) == []
    s3.delete_object(Bucket=bucket, Key="never-was")


def test_bad_requests_change_nothing(cluster, s3, bucket):
    s3info = cluster.doc["s3"]
    wrong = client(cluster, secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        wrong.put_object(Bucket=bucket, Key="w", Body=b"x")
    assert code_of(e) == "SignatureDoesNotMatch"
    unknown = boto3.client("s3", endpoint_url=s3info["endpoint"], aws_access_key_id="AKIANOTAKEY",
                           aws_secret_access_key="x", region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        unknown.list_buckets()
    assert code_of(e) == "InvalidAccessKeyId"
    # Anonymous.
    r = requests.get(f"{s3info['endpoint']}/{bucket}", timeout=30)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    # Keys that are no dfs path.
    for key in ["a//b", "../x", "a/./b", "a/../../etc/passwd", ".s3-multipart/x"]:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, key
    # Raw requests that botocore would never send: %2e%2e and NUL.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    creds = Credentials(s3info["access_key"], s3info["secret"])
    for raw in ["%2e%2e/escape", "a/%00b"]:
        url = f"{s3info['endpoint']}/{bucket}/{raw}"
        req = AWSRequest(method="PUT", url=url, data=b"x",
                         headers={"x-amz-content-sha256": hashlib.sha256(b"x").hexdigest()})
        SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        r = requests.put(url, data=b"x", headers=dict(req.headers), timeout=30)
        assert r.status_code in (400, 403), (raw, r.status_code, r.text)
        assert "<Error>" in r.text
    # A body that does not match its signed SHA-256: nothing stored.
    url = f"{s3info['endpoint']}/{bucket}/tampered"
    req = AWSRequest(method="PUT", url=url, data=b"good",
                     headers={"x-amz-content-sha256": hashlib.sha256(b"good").hexdigest()})
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=b"evil", headers=dict(req.headers), timeout=30)
    assert r.status_code == 400 and "XAmzContentSHA256Mismatch" in r.text, r.text
    # Bad XML, an entity bomb, a body over the limit.
    for body in [b"<Delete><Object><Key>a", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><Delete/>",
                 b"<Delete>" + b"<Object><Key>k</Key></Object>" * 100_000 + b"</Delete>"]:
        url = f"{s3info['endpoint']}/{bucket}?delete"
        req = AWSRequest(method="POST", url=url, data=body,
                         headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
        SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        r = requests.post(url, data=body, headers=dict(req.headers), timeout=60)
        assert r.status_code == 400, (r.status_code, r.text[:200])
        assert "<Code>MalformedXML</Code>" in r.text or "MaxMessageLengthExceeded" in r.text
    # Unsupported operations: a clean NotImplemented.
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert code_of(e) == "NotImplemented"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # The server is alive.
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_keys_through_the_cli(cluster):
    dfs = str(binary("dfs"))
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    made = subprocess.run([dfs, "--json", "s3", "key", "create", "someone"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["user"] == "someone" and len(key["secret"]) == 40
    listed = subprocess.run([dfs, "--json", "s3", "key", "list"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert key["access_key"] in listed.stdout and key["secret"] not in listed.stdout
    mine = boto3.client("s3", endpoint_url=cluster.doc["s3"]["endpoint"],
                        aws_access_key_id=key["access_key"], aws_secret_access_key=key["secret"],
                        region_name="us-east-1")
    mine.list_buckets()
    gone = subprocess.run([dfs, "s3", "key", "delete", key["access_key"]], env=env,
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    with pytest.raises(ClientError) as e:
        mine.list_buckets()
    assert code_of(e) == "InvalidAccessKeyId"


def test_aws_cli(cluster, bucket, tmp_path):
    aws = str(aws_cli())
    s3info = cluster.doc["s3"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3info["access_key"],
               AWS_SECRET_ACCESS_KEY=s3info["secret"], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    base = [aws, "--endpoint-url", s3info["endpoint"], "s3"]

    def run(*args):
        p = subprocess.run(base + list(args), env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-2000:])
        return p.stdout

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for i in range(300):
            f.write(blob(MiB, 1000 + i))
    run("cp", str(big), f"s3://{bucket}/big/big.bin")
    run("cp", f"s3://{bucket}/big/big.bin", str(tmp_path / "back.bin"))
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).digest() == \
        hashlib.sha256(big.read_bytes()).digest()
    tree = tmp_path / "tree"
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]:
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(blob(1000 + len(rel), len(rel)))
    run("sync", str(tree), f"s3://{bucket}/tree")
    listing = run("ls", "--recursive", f"s3://{bucket}/tree/")
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]:
        assert f"tree/{rel}" in listing
    back = tmp_path / "tree-back"
    run("sync", f"s3://{bucket}/tree", str(back))
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]:
        assert (back / rel).read_bytes() == (tree / rel).read_bytes()
    run("rm", "--recursive", f"s3://{bucket}/tree")
    assert "tree/" not in run("ls", "--recursive", f"s3://{bucket}/")


def aws_cli():
    """The aws CLI of this venv (pip's awscli), else one on PATH."""
    import sys
    from pathlib import Path
    mine = Path(sys.executable).parent / "aws"
    return mine if mine.exists() else shutil.which("aws")


def test_s3fs_and_pandas(cluster, s3, bucket):
    import pandas as pd
    import s3fs

    info = cluster.doc["s3"]
    fs = s3fs.S3FileSystem(key=info["access_key"], secret=info["secret"],
                           client_kwargs={"endpoint_url": info["endpoint"], "region_name": "us-east-1"})
    opts = {"key": info["access_key"], "secret": info["secret"],
            "client_kwargs": {"endpoint_url": info["endpoint"], "region_name": "us-east-1"}}
    df = pd.DataFrame({"id": range(5000), "name": [f"n{i}" for i in range(5000)],
                       "x": [i * 0.5 for i in range(5000)]})
    df.to_csv(f"s3://{bucket}/data/table.csv", index=False, storage_options=opts)
    back = pd.read_csv(f"s3://{bucket}/data/table.csv", storage_options=opts)
    assert back.equals(df)
    df.to_parquet(f"s3://{bucket}/data/table.parquet", storage_options=opts)
    assert pd.read_parquet(f"s3://{bucket}/data/table.parquet", storage_options=opts).equals(df)
    assert sorted(fs.ls(f"{bucket}/data")) == [f"{bucket}/data/table.csv", f"{bucket}/data/table.parquet"]
    # The CSV through WebHDFS is the same bytes.
    assert webhdfs_read(cluster, f"/{bucket}/data/table.csv") == fs.cat(f"{bucket}/data/table.csv")


def test_rclone(cluster, bucket, tmp_path):
    rclone = shutil.which("rclone")
    if rclone is None:
        if os.environ.get("CI"):
            pytest.fail("rclone is not installed (.ci/run installs it)")
        pytest.skip("rclone is not installed")
    info = cluster.doc["s3"]
    # AWS_CA_BUNDLE (set on some machines) makes rclone's S3 client fail
    # to start on a plain-HTTP endpoint.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(RCLONE_CONFIG=str(tmp_path / "none.conf"),
               RCLONE_CONFIG_DFS_TYPE="s3", RCLONE_CONFIG_DFS_PROVIDER="Other",
               RCLONE_CONFIG_DFS_ACCESS_KEY_ID=info["access_key"],
               RCLONE_CONFIG_DFS_SECRET_ACCESS_KEY=info["secret"],
               RCLONE_CONFIG_DFS_ENDPOINT=info["endpoint"],
               RCLONE_CONFIG_DFS_REGION="us-east-1")

    def run(*args):
        p = subprocess.run([rclone, *args], env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-2000:])
        return p.stdout

    src = tmp_path / "src"
    files = {"a.bin": blob(3 * MiB + 1, 40), "d/b.txt": b"hello rclone\n", "d/e/c.bin": blob(70_000, 41)}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    run("copy", str(src), f"dfs:{bucket}/rc")
    assert sorted(run("lsf", "-R", "--files-only", f"dfs:{bucket}/rc").split()) == sorted(files)
    # check compares sizes and MD5s (the ETags).
    run("check", str(src), f"dfs:{bucket}/rc")
    (src / "d/b.txt").write_bytes(b"changed\n")
    (src / "a.bin").unlink()
    run("sync", str(src), f"dfs:{bucket}/rc")
    run("check", str(src), f"dfs:{bucket}/rc")
    assert "a.bin" not in run("lsf", "-R", f"dfs:{bucket}/rc")
    back = tmp_path / "back"
    run("sync", f"dfs:{bucket}/rc", str(back))
    assert (back / "d/b.txt").read_bytes() == b"changed\n"
    assert (back / "d/e/c.bin").read_bytes() == files["d/e/c.bin"]


def test_cli_and_s3_see_the_same_bytes(cluster, s3, bucket, tmp_path):
    dfs = str(binary("dfs"))
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    data = blob(2 * MiB + 11, 50)
    s3.put_object(Bucket=bucket, Key="cli/from-s3.bin", Body=data)
    out = subprocess.run([dfs, "cat", f"/{bucket}/cli/from-s3.bin"], env=env,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data
    src = tmp_path / "from-cli.bin"
    src.write_bytes(blob(MiB + 3, 51))
    put = subprocess.run([dfs, "put", str(src), f"/{bucket}/cli/from-cli.bin"], env=env,
                         capture_output=True, timeout=60)
    assert put.returncode == 0, put.stderr
    assert s3.get_object(Bucket=bucket, Key="cli/from-cli.bin")["Body"].read() == src.read_bytes()


def signed(s3info, method, path, body=b"", headers=None, host=None):
    """A request signed as botocore signs it (SigV4, header form)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    url = f"{s3info['endpoint']}{path}"
    h = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), **(headers or {})}
    if host:
        h["host"] = host
    req = AWSRequest(method=method, url=url, data=body, headers=h)
    SigV4Auth(Credentials(s3info["access_key"], s3info["secret"]), "s3", "us-east-1").add_auth(req)
    return url, dict(req.headers)


def test_virtual_host_addressing(cluster, s3, bucket):
    s3info = cluster.doc["s3"]
    port = s3info["endpoint"].rsplit(":", 1)[1]
    host = f"{bucket}.localhost:{port}"
    # Sent to 127.0.0.1 with the virtual host's name (no DNS needed).
    url, h = signed(s3info, "PUT", "/vh/key.txt", b"by host", host=host)
    r = requests.put(f"{s3info['endpoint']}/vh/key.txt", data=b"by host", headers=h, timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="vh/key.txt")["Body"].read() == b"by host"
    url, h = signed(s3info, "GET", "/vh/key.txt", host=host)
    r = requests.get(f"{s3info['endpoint']}/vh/key.txt", headers=h, timeout=30)
    assert r.status_code == 200 and r.content == b"by host"


def test_a_body_short_of_its_length_stores_nothing(cluster, s3, bucket):
    import socket
    s3info = cluster.doc["s3"]
    host_port = s3info["endpoint"].removeprefix("http://")
    h, p = host_port.rsplit(":", 1)
    body = b"only ten b"
    _, headers = signed(s3info, "PUT", f"/{bucket}/short", body, headers={"content-length": "100000"})
    headers["content-length"] = "100000"
    head = f"PUT /{bucket}/short HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((h, int(p)), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass
    # A streaming body that says it decodes to more than it holds.
    chunk = b"hello"
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    _, headers = signed(s3info, "PUT", f"/{bucket}/liar", framed, headers={
        "x-amz-decoded-content-length": "999", "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
    r = requests.put(f"{s3info['endpoint']}/{bucket}/liar", data=framed, headers=headers, timeout=30)
    assert r.status_code == 400 and "<Error>" in r.text, (r.status_code, r.text)
    for key in ["short", "liar"]:
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=key)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # The server is alive, the writes it abandoned leave no trace.
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_malformed_authorization(cluster, bucket):
    s3info = cluster.doc["s3"]
    for auth in [
        "AWS4-HMAC-SHA256 Credential=garbage",
        "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS " + s3info["access_key"] + ":c2lnbmF0dXJl",
        "Bearer abc",
        "",
    ]:
        r = requests.get(f"{s3info['endpoint']}/{bucket}", headers={
            "authorization": auth, "x-amz-date": "20260101T000000Z",
            "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}, timeout=30)
        assert r.status_code in (400, 403), (auth, r.status_code, r.text)
        assert "<Error><Code>" in r.text, r.text


def test_a_complete_that_fails_late_answers_an_error(cluster, s3, bucket):
    """Complete answers at once and streams its outcome: a failure during
    the copy (here the bucket's space quota) comes as S3's error inside the
    200, which boto3 raises, and nothing appears."""
    dfs = str(binary("dfs"))
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    parts = [blob(5 * MiB, 60), blob(5 * MiB, 61)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="q/obj")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="q/obj", UploadId=uid, PartNumber=i + 1,
                            Body=p)["ETag"] for i, p in enumerate(parts)]
    # The parts take 30 MiB (3 replicas); the object would take 30 more.
    q = subprocess.run([dfs, "quota", "set", "--bytes", "45MiB", f"/{bucket}"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert q.returncode == 0, q.stderr
    try:
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="q/obj", UploadId=uid,
                MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": t} for i, t in enumerate(etags)]})
        assert code_of(e) == "QuotaExceeded", e.value.response
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="q/obj")
        # The upload is still there to retry or abort.
        assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    finally:
        subprocess.run([dfs, "quota", "clear", f"/{bucket}"], env=env, timeout=60, check=True)


def test_multipart_parts_of_other_sizes_are_copied(cluster, s3, bucket):
    """Parts of one size (but the last) are joined without a copy; parts of
    different sizes cannot be (their blocks do not line up) and are copied:
    the object is the same bytes either way."""
    for sizes in ([5 * MiB, 5 * MiB, 100], [6 * MiB, 5 * MiB, 100]):
        parts = [blob(n, 70 + i) for i, n in enumerate(sizes)]
        key = f"sizes/{'-'.join(map(str, sizes))}"
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i + 1,
                                Body=p)["ETag"] for i, p in enumerate(parts)]
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": t} for i, t in enumerate(etags)]})
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(parts)
        st = requests.get(f"{cluster.url}/rpc/v1/status", params={"path": f"/{bucket}/{key}"},
                          timeout=30).json()
        # Joined: the parts' blocks (5 MiB each); copied: the namenode's (1 MiB here).
        assert st["block_size"] == (5 * MiB if sizes[0] == sizes[1] else MiB), st


def test_a_key_cannot_be_an_object_and_a_prefix(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"inside")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="a", Body=b"over a prefix")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.put_object(Bucket=bucket, Key="f", Body=b"a file")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="f/g", Body=b"under a file")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == b"inside"
    assert s3.get_object(Bucket=bucket, Key="f")["Body"].read() == b"a file"
