"""schemathesis against a real cluster's `/api/v1`: requests generated from
the OpenAPI document the namenode serves (`/api/v1/openapi.json`), valid
and invalid ones, a bounded number per operation, and every answer checked:

- `not_a_server_error`: no 5xx but 503 (safe mode), which
  `status_code_conformance` then holds to the operations that document it;
- `status_code_conformance`: every status is documented for its operation;
- `content_type_conformance`: the documented content type;
- `response_schema_conformance`: the body validates against the documented
  (closed) schema, errors included.

About half of the `path` and `{node}` values come from what the cluster really
holds (a directory and a file uploaded first, the datanodes' addresses and
ids, through schemathesis dictionaries), so that generated requests reach
the 200 answers and not only the 404s.

The cluster is this module's own: generated requests enter safe mode and
decommission datanodes. Bounded: `SCHEMATHESIS_MAX_EXAMPLES` (default 25)
examples per operation and a per-request timeout; `--seed` makes a failing
run repeatable (set `SCHEMATHESIS_SEED` to replay one).
"""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import requests

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def real_values(url: str, tmp_path: Path) -> Path:
    """A schemathesis.toml whose dictionaries hold real paths and nodes."""
    r = requests.post(f"{url}/create_directory", data={"directory_name": "/st/sub"}, timeout=30)
    assert r.status_code == 201, r.text
    r = requests.post(
        f"{url}/upload_file",
        data={"directory": "/st"},
        files={"file": ("f.bin", os.urandom(3 << 20))},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    nodes = requests.get(f"{url}/api/v1/datanodes", timeout=30).json()
    assert nodes, "no datanodes"
    paths = ["/", "/st", "/st/sub", "/st/f.bin"]
    names = [n["addr"].removeprefix("http://") for n in nodes] + [n["id"] for n in nodes]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""[dictionaries.paths]
values = {toml_list(paths)}

[dictionaries.nodes]
values = {toml_list(names)}

[parameters]
"query.path" = {{ dictionary = "paths", probability = 0.5 }}
"path.node" = {{ dictionary = "nodes", probability = 0.5 }}

# Operator actions answer 503 in safe mode, which generated requests enter.
[checks.not_a_server_error]
expected-statuses = ["1XX", "2XX", "3XX", "4XX", 503]
"""
    )
    return config


def test_api_v1_conforms_to_its_openapi_document(own_cluster, tmp_path):
    config = real_values(own_cluster.url, tmp_path)
    seed = int(os.environ.get("SCHEMATHESIS_SEED", random.randrange(1 << 31)))
    exe = Path(sys.executable).with_name("schemathesis")
    cmd = [
        str(exe),
        "--config-file",
        str(config),
        "run",
        f"{own_cluster.url}/api/v1/openapi.json",
        "--url",
        own_cluster.url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        # Adding a namenode contacts the URL in the body: generated ones
        # would send traffic off this machine (ha_membership.rs tests it).
        "--exclude-operation-id",
        "addNamenode",
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    # Bounded in time as well as in examples: a hung request fails the test.
    run = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    print(out)
    assert run.returncode == 0, (
        f"schemathesis found problems (replay with SCHEMATHESIS_SEED={seed}):\n{out[-6000:]}"
    )
