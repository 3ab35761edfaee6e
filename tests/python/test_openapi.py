"""Every `/api/v1` answer of a real cluster, errors included, validated
against the OpenAPI document the namenode serves at `/api/v1/openapi.json`.

Each request goes through `Api.call(method, template, status, ...)`: the
answer must have the expected status, that status must be documented for
that operation, the body must be JSON and must validate (Draft 2020-12, the
document's schemas resolved through a `referencing` registry) against the
documented schema. The schemas are closed (`additionalProperties: false`,
every field required), so a field added, renamed or dropped on the server
without the document fails here. The last test checks that every documented
operation and every documented error status was exercised.

This module gets a cluster of its own: it enters safe mode and
decommissions nodes.
"""

import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import BLOCK_SIZE, REPO, binary

DOC_URI = "urn:dfs:openapi"
# (operation, status) pairs the tests cannot provoke on a healthy cluster:
# 500 is a server bug; 409 on (de|re)commission and on ending maintenance
# needs two node ids sharing a 4-hex-digit prefix; 503 on namenodes is a namenode whose Raft group has not
# started (it starts before the namenode listens), or, on a removal, a group
# that cannot commit the change.
UNREACHABLE = {
    ("POST /api/v1/datanodes/{node}/decommission", "409"),
    ("POST /api/v1/datanodes/{node}/recommission", "409"),
    ("POST /api/v1/datanodes/{node}/maintenance/end", "409"),
    ("GET /api/v1/namenodes", "503"),
    ("DELETE /api/v1/namenodes", "503"),
}


def pointer(*parts) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Api:
    def __init__(self, url: str, doc: dict):
        self.url = url
        self.doc = doc
        self.registry = Registry().with_resource(
            DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
        )
        self.seen = set()  # ("METHOD template", status)

    def validator(self, ptr: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{DOC_URI}#{ptr}"}, registry=self.registry)

    def check_body(self, ptr: str, body, what: str):
        errors = sorted(self.validator(ptr).iter_errors(body), key=lambda e: list(e.path))
        if errors:
            detail = "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in errors[:10]
            )
            pytest.fail(
                f"{what}: body does not match the OpenAPI document ({ptr}):\n{detail}\n"
                f"body: {json.dumps(body)[:2000]}"
            )

    def call(self, method: str, template: str, status: int, path_params=None, **kw):
        """Sends one request, checks status, documentation and body; returns the body."""
        concrete = template
        for k, v in (path_params or {}).items():
            concrete = concrete.replace("{" + k + "}", quote(v, safe=""))
        r = requests.request(method, self.url + concrete, timeout=30, **kw)
        what = f"{method} {r.request.url}"
        assert r.status_code == status, f"{what}: expected {status}, got {r.status_code}: {r.text[:500]}"
        assert r.headers.get("content-type", "").startswith("application/json"), (
            f"{what}: content-type {r.headers.get('content-type')!r}"
        )
        body = r.json()
        op = self.doc["paths"].get(template, {}).get(method.lower())
        assert op is not None, f"{method} {template} is not in the OpenAPI document"
        resp = op["responses"].get(str(status))
        assert resp is not None, (
            f"{what}: status {status} is not documented for {method} {template} "
            f"(documented: {sorted(op['responses'])}); body: {r.text[:300]}"
        )
        ptr = pointer("paths", template, method.lower(), "responses", str(status))
        if "$ref" in resp:
            ptr = resp["$ref"].lstrip("#")
            resp = self.resolve(resp["$ref"])
        assert "application/json" in resp["content"], f"{what}: no JSON content documented"
        self.check_body(ptr + pointer("content", "application/json", "schema"), body, what)
        self.seen.add((f"{method} {template}", str(status)))
        return body

    def undocumented_route(self, method: str, path: str, status: int):
        """Unknown routes and methods: not in the paths, but the document
        promises the error body for them."""
        r = requests.request(method, self.url + path, timeout=30)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        self.check_body(pointer("components", "schemas", "ErrorBody"), r.json(), f"{method} {path}")
        return r.json()

    def resolve(self, ref: str):
        node = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


@pytest.fixture(scope="module")
def api(own_cluster):
    r = requests.get(own_cluster.url + "/api/v1/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    return Api(own_cluster.url, doc)


@pytest.fixture(scope="module")
def files(own_cluster, tmp_path_factory):
    """Uploads through the `dfs` CLI (the native path): a 3-block file, an
    empty file, and a directory. Returns {name: bytes}."""
    d = tmp_path_factory.mktemp("openapi-data")
    data = os.urandom(2 * BLOCK_SIZE + 12345)
    (d / "three.bin").write_bytes(data)
    (d / "empty.bin").write_bytes(b"")
    dfs = binary("dfs")
    env = dict(os.environ, DFS_NAMENODE=own_cluster.url)
    for args in (
        ["mkdir", "-p", "/oa/dir/sub"],
        ["put", str(d / "three.bin"), "/oa/three.bin"],
        ["put", str(d / "empty.bin"), "/oa/empty.bin"],
    ):
        p = subprocess.run([str(dfs), *args], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"dfs {' '.join(args)}: {p.stderr}"
    return {"three": data, "empty": b""}


def test_document_is_the_repository_file_and_valid_schemas(api):
    on_disk = json.loads((REPO / "namenode/src/api/openapi.json").read_text())
    assert api.doc == on_disk, "the namenode serves a different document than the repository's"
    assert api.doc["openapi"].startswith("3.1.")
    for name, schema in api.doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    api.call("GET", "/api/v1/openapi.json", 200)


def test_summary(api):
    s = api.call("GET", "/api/v1/summary", 200)
    assert s["live_datanodes"] == 3
    assert s["default_block_size"] == BLOCK_SIZE
    assert s["safe_mode"] is False and s["safe_mode_reason"] is None


def test_datanodes(api, own_cluster):
    nodes = api.call("GET", "/api/v1/datanodes", 200)
    assert len(nodes) == 3
    assert sorted(n["addr"] for n in nodes) == sorted(
        f"http://127.0.0.1:{p}" for p in own_cluster.dn_ports
    )
    assert all(n["state"] == "live" and n["admin_state"] == "normal" for n in nodes)


def test_blocks(api, files):
    data = files["three"]
    loc = api.call("GET", "/api/v1/blocks", 200, params={"path": "/oa/three.bin"})
    assert loc["status"]["length"] == len(data)
    assert loc["status"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert loc["status"]["type"] == "file"
    assert [b["offset"] for b in loc["blocks"]] == [0, BLOCK_SIZE, 2 * BLOCK_SIZE]
    for b in loc["blocks"]:
        chunk = data[b["offset"] : b["offset"] + b["len"]]
        assert b["sha256"] == hashlib.sha256(chunk).hexdigest()
        assert len(b["replicas"]) == 3

    empty = api.call("GET", "/api/v1/blocks", 200, params={"path": "/oa/empty.bin"})
    assert empty["blocks"] == [] and empty["status"]["length"] == 0

    api.call("GET", "/api/v1/blocks", 404, params={"path": "/oa/missing.bin"})
    api.call("GET", "/api/v1/blocks", 409, params={"path": "/oa/dir"})
    api.call("GET", "/api/v1/blocks", 400, params={"path": "relative/path"})
    api.call("GET", "/api/v1/blocks", 400, params={"path": "/oa/../etc"})
    api.call("GET", "/api/v1/blocks", 400)  # no path at all


def test_fsck(api, files):
    whole = api.call("GET", "/api/v1/fsck", 200)
    assert whole["path"] == "/"
    assert whole["healthy"] is True
    sub = api.call("GET", "/api/v1/fsck", 200, params={"path": "/oa"})
    assert sub["files"] == 2 and sub["blocks"] == 3 and sub["total_bytes"] == len(files["three"])
    api.call("GET", "/api/v1/fsck", 200, params={"path": "/oa/three.bin"})
    api.call("GET", "/api/v1/fsck", 404, params={"path": "/no/such/dir"})
    api.call("GET", "/api/v1/fsck", 400, params={"path": "no-slash"})
    api.call("GET", "/api/v1/fsck", 400, params={"path": "/a//b"})


def test_decommission_and_recommission(api, own_cluster, files):
    nodes = api.call("GET", "/api/v1/datanodes", 200)
    node = nodes[0]
    addr = node["addr"].removeprefix("http://")
    dec = "/api/v1/datanodes/{node}/decommission"
    rec = "/api/v1/datanodes/{node}/recommission"

    # By address: with three nodes and replication 3 there is nowhere to
    # drain to, so it stays decommissioning.
    out = api.call("POST", dec, 200, {"node": addr})
    assert out["node"]["id"] == node["id"]
    assert out["node"]["admin_state"] in ("decommissioning", "decommissioned")
    # Asking again is harmless; by id this time.
    out = api.call("POST", dec, 200, {"node": node["id"]})
    assert out["node"]["admin_state"] in ("decommissioning", "decommissioned")
    listed = api.call("GET", "/api/v1/datanodes", 200)
    assert any(n["id"] == node["id"] and n["admin_state"] != "normal" for n in listed)
    api.call("GET", "/api/v1/summary", 200)
    api.call("GET", "/api/v1/fsck", 200)

    # Back, by id prefix and by URL.
    out = api.call("POST", rec, 200, {"node": node["id"].replace("-", "")[:8]})
    assert out["node"]["admin_state"] == "normal"
    out = api.call("POST", rec, 200, {"node": node["addr"]})
    assert out["node"]["admin_state"] == "normal"

    api.call("POST", dec, 404, {"node": "no-such-node"})
    api.call("POST", rec, 404, {"node": "127.0.0.1:1"})


def test_maintenance(api, own_cluster, files):
    nodes = api.call("GET", "/api/v1/datanodes", 200)
    node = nodes[0]
    addr = node["addr"].removeprefix("http://")
    enter = "/api/v1/datanodes/{node}/maintenance"
    end = "/api/v1/datanodes/{node}/maintenance/end"

    # By address, for a while; by id, until ended.
    out = api.call("POST", enter, 200, {"node": addr}, params={"for": "30m"})
    assert out["node"]["in_maintenance"] is True
    assert 0 < out["node"]["maintenance_ends_in_ms"] <= 30 * 60 * 1000
    out = api.call("POST", enter, 200, {"node": node["id"]})
    assert out["node"]["in_maintenance"] is True
    assert out["node"]["maintenance_ends_in_ms"] is None
    listed = api.call("GET", "/api/v1/datanodes", 200)
    assert any(n["id"] == node["id"] and n["in_maintenance"] for n in listed)
    out = api.call("POST", end, 200, {"node": node["addr"]})
    assert out["node"]["in_maintenance"] is False
    out = api.call("POST", end, 200, {"node": node["id"]})  # harmless again
    assert out["node"]["in_maintenance"] is False

    api.call("POST", enter, 400, {"node": addr}, params={"for": "soon"})
    api.call("POST", enter, 400, {"node": addr}, params={"for": "0s"})
    api.call("POST", enter, 404, {"node": "no-such-node"})
    api.call("POST", end, 404, {"node": "127.0.0.1:1"})
    # A node not in normal service is refused.
    dec = "/api/v1/datanodes/{node}/decommission"
    rec = "/api/v1/datanodes/{node}/recommission"
    api.call("POST", dec, 200, {"node": node["id"]})
    try:
        err = api.call("POST", enter, 409, {"node": node["id"]})
        assert err["error"]["code"] == "conflict"
    finally:
        api.call("POST", rec, 200, {"node": node["id"]})


def test_balancer(api, files):
    b = "/api/v1/balancer"
    st = api.call("GET", b, 200)
    assert st["running"] is False
    # A threshold of 100 points: balanced at the first look, nothing moves.
    st = api.call("POST", b, 200, params={"threshold": "100"})
    assert st["running"] is True and st["threshold"] == 100
    st = api.call("POST", b + "/stop", 200)
    assert st["running"] is False and st["moves_in_flight"] >= 0
    assert api.call("GET", b, 200)["running"] is False
    for bad in ["150", "-1", "lots", "NaN"]:
        err = api.call("POST", b, 400, params={"threshold": bad})
        assert err["error"]["code"] == "bad_request"


def test_safe_mode(api, files):
    sm = "/api/v1/safemode"
    assert api.call("GET", sm, 200) == {"safe_mode": False, "reason": None}
    assert api.call("POST", sm, 200)["safe_mode"] is False  # no action: get
    assert api.call("POST", sm, 200, params={"action": "get"})["safe_mode"] is False
    try:
        on = api.call("POST", sm, 200, params={"action": "enter"})
        assert on["safe_mode"] is True and on["reason"]
        assert api.call("GET", sm, 200)["safe_mode"] is True
        s = api.call("GET", "/api/v1/summary", 200)
        assert s["safe_mode"] is True and s["safe_mode_reason"]
        assert api.call("GET", "/api/v1/fsck", 200)["safe_mode"] is True
        # Reads still work in safe mode; operator actions do not.
        api.call("GET", "/api/v1/blocks", 200, params={"path": "/oa/three.bin"})
        node = api.call("GET", "/api/v1/datanodes", 200)[0]["id"]
        err = api.call("POST", "/api/v1/datanodes/{node}/decommission", 503, {"node": node})
        assert err["error"]["code"] == "unavailable"
        api.call("POST", "/api/v1/datanodes/{node}/recommission", 503, {"node": node})
        api.call("POST", "/api/v1/datanodes/{node}/maintenance", 503, {"node": node})
        api.call("POST", "/api/v1/datanodes/{node}/maintenance/end", 503, {"node": node})
        api.call("POST", "/api/v1/orphans/delete", 503)
        api.call("POST", "/api/v1/balancer", 503)
    finally:
        off = api.call("POST", sm, 200, params={"action": "leave"})
    assert off == {"safe_mode": False, "reason": None}
    err = api.call("POST", sm, 400, params={"action": "bogus"})
    assert err["error"]["code"] == "bad_request"


def test_orphans_and_checkpoint(api, files):
    o = api.call("GET", "/api/v1/orphans", 200)
    assert o["unknown_replicas"]["held"] == 0 and len(o["nodes"]) <= 3
    d = api.call("POST", "/api/v1/orphans/delete", 200)
    assert d["replicas"] >= 0
    s = api.call("GET", "/api/v1/summary", 200)
    assert s["cluster_id"] and s["refused_datanodes"] == []
    # The checkpoint is binary: its documented content type, and the magic.
    op = api.doc["paths"]["/api/v1/checkpoint"]["get"]
    r = requests.get(api.url + "/api/v1/checkpoint", timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] in op["responses"]["200"]["content"]
    assert r.content.startswith(b"DFSCKPT\n")
    assert s["cluster_id"] in r.headers["content-disposition"]
    assert int(r.headers["x-dfs-checkpoint-records"]) > 0
    assert int(r.headers["content-length"]) == len(r.content)
    api.seen.add(("GET /api/v1/checkpoint", "200"))


def test_namenodes(api):
    """A namenode of its own leads a group of one."""
    r = api.call("GET", "/api/v1/namenodes", 200)
    assert r["self_role"] == "leader" and r["leader"] == r["self"]
    assert r["term"] >= 1 and r["last_applied"] >= 1
    assert [n["role"] for n in r["namenodes"]] == ["leader"]
    assert r["namenodes"][0]["url"] == r["self"] and r["namenodes"][0]["lag"] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Namenode:
    """A namenode process of its own on a free 127.0.0.1 port (`--join`:
    one waiting to be added; without: a group of one of its own)."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="dfs-pytest-nn-")
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log = open(os.path.join(self.dir, "namenode.log"), "w")
        self.proc = subprocess.Popen(
            [str(binary("namenode")), "--listen", self.url.removeprefix("http://"),
             "--data-dir", os.path.join(self.dir, "data"), *args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/api/v1/namenodes", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, f"namenode {' '.join(args)} exited"
            assert time.monotonic() < deadline, "namenode did not answer"
            time.sleep(0.1)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir], check=False)


def test_changing_the_namenodes(api):
    """`dfs namenode add|remove`: a namenode waiting to join is added and
    removed again; what cannot follow is refused."""
    nn = "/api/v1/namenodes"
    me = api.call("GET", nn, 200)["self"]
    # Already a voter: nothing changes.
    r = api.call("POST", nn, 200, json={"url": me})
    assert [m["url"] for m in r["namenodes"]] == [me]
    err = api.call("POST", nn, 400, json={"url": "not a url"})
    assert err["error"]["code"] == "bad_request"
    nobody = f"http://127.0.0.1:{_free_port()}"
    err = api.call("POST", nn, 503, json={"url": nobody})
    assert "could not be reached" in err["error"]["message"]
    api.call("DELETE", nn, 404, params={"url": nobody})
    api.call("DELETE", nn, 400)  # no url
    err = api.call("DELETE", nn, 409, params={"url": me})
    assert "last voter" in err["error"]["message"]
    other = _Namenode()
    try:
        err = api.call("POST", nn, 409, json={"url": other.url})
        assert "another group" in err["error"]["message"]
    finally:
        other.stop()
    joiner = _Namenode("--join")
    try:
        r = api.call("POST", nn, 200, json={"url": joiner.url})
        assert sorted(m["url"] for m in r["namenodes"]) == sorted([me, joiner.url])
        r = api.call("DELETE", nn, 200, params={"url": joiner.url})
        assert [m["url"] for m in r["namenodes"]] == [me]
    finally:
        joiner.stop()
    assert api.call("GET", nn, 200)["self_role"] == "leader"


def test_unknown_routes_answer_the_error_body(api):
    body = api.undocumented_route("GET", "/api/v1/no-such-thing", 404)
    assert body["error"]["code"] == "not_found"
    body = api.undocumented_route("POST", "/api/v1/summary", 404)
    assert body["error"]["code"] == "not_found"
    api.undocumented_route("DELETE", "/api/v1/datanodes", 404)


def test_every_documented_answer_was_exercised(api):
    """Runs last (pytest keeps file order): nothing documented went untested."""
    wanted = set()
    for template, item in api.doc["paths"].items():
        for method, op in item.items():
            for status in op["responses"]:
                if status != "500":
                    wanted.add((f"{method.upper()} {template}", status))
    missing = sorted(wanted - UNREACHABLE - api.seen)
    assert not missing, f"documented but never exercised: {missing}"
