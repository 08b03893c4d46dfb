"""A client generated from the OpenAPI description by ``openapi-python-client`` returns typed
results and typed errors against a running ``sheetgen serve --data`` (issue 25).

The generator pins typer below the version sheetgen needs, so it runs in a virtualenv of its
own, made once per test session (pip's cache makes that quick), and so does the generated
client, which needs httpx 0.28 and attrs. Without network access to PyPI the test skips,
except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from sheetgen.desk import open_register
from sheetgen.serve.app import create_app
from sheetgen.serve.config import ServeConfig
from tests.applicants import example
from tests.conftest import REPO

TOKEN = "generated-client-token-0123456789"
GENERATOR = "openapi-python-client==0.29.1"


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the generator (and so httpx and attrs for the client)."""
    folder = tmp_path_factory.mktemp("openapi-tools")
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", GENERATOR],
                               capture_output=True, text=True, timeout=600, check=False)
    if installed.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot install {GENERATOR}: {installed.stderr[-2000:]}")
        pytest.skip(f"cannot install {GENERATOR} (no network?)")
    return python


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("served")
    data = example("jiangxi-personal")
    with open_register(str(folder / "register")) as register:
        register.bring(data["ref"], data=data, ok=True, input_sha256="1" * 64)
    log = folder / "stderr.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sheetgen", "serve", "--port", "0", "--workers", "1",
             "--data", str(folder / "register"), "--token", TOKEN],
            stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL, cwd=REPO)
    try:
        for _ in range(600):
            found = re.search(r"the form is at (http://127\.0\.0\.1:\d+)/", log.read_text())
            if found:
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert found, log.read_text()
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(30)


CLIENT_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from sheetgen_client import AuthenticatedClient, Client
from sheetgen_client.api.default import (
    batch_manifest_api_v1_batches_job_manifest_get as manifest,
    batch_status_api_v1_batches_job_get as batch_status, batches_api_v1_batches_post as batches,
    live_api_v1_live_get as live, print_bundle_api_v1_print_post as print_bundle,
    record_api_v1_records_ref_get as record, records_api_v1_records_get as records)
from sheetgen_client.models import (
    Applicant, BatchAccepted, BatchStatus, Problems, RecordAnswer, RecordsPage)

client = AuthenticatedClient(base_url=sys.argv[2], token=sys.argv[3])
people = [Applicant.from_dict(p) for p in json.loads(sys.argv[4])]
accepted = batches.sync(client=client, body=people, cover=False)
assert isinstance(accepted, BatchAccepted), accepted
while True:
    status = batch_status.sync(accepted.id, client=client)
    assert isinstance(status, BatchStatus), status
    if status.status.value in ("done", "failed"):
        break
    time.sleep(0.2)
report = manifest.sync_detailed(accepted.id, client=client)
errors = [e["code"] for r in json.loads(report.content)["records"] for e in r["errors"]]
page = records.sync(client=client)
found = record.sync(ref="GC-1", client=client)
missing = record.sync(ref="NOPE", client=client)
refused = records.sync(client=AuthenticatedClient(base_url=sys.argv[2], token="wrong" * 4))
printed = print_bundle.sync_detailed(client=client)
after = records.sync(client=client, status="printed")
print(json.dumps({
    "job": [status.status.value, status.total, status.done, status.failed], "errors": errors,
    "page": isinstance(page, RecordsPage), "total": page.total,
    "statuses": sorted(r.status.value for r in page.records),
    "record": isinstance(found, RecordAnswer), "name": found.record.name,
    "missing": isinstance(missing, Problems), "code": missing.problems[0].code,
    "refused": isinstance(refused, Problems), "refused_code": refused.problems[0].code,
    "printed": [printed.status_code, printed.content[:5].decode()], "now_printed": after.total,
    "live": live.sync_detailed(client=Client(base_url=sys.argv[2])).status_code,
}))
"""


def test_a_generated_client_gets_typed_results_and_typed_errors(
        tools: Path, server: str, tmp_path: Path) -> None:
    app = create_app(ServeConfig(workers=1, token=TOKEN, register=str(tmp_path / "spec")))
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(app.openapi()), "utf-8")
    out = tmp_path / "generated" / "sheetgen_client"
    generated = subprocess.run(
        [str(tools.parent / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(out), "--meta", "none"],
        capture_output=True, text=True, timeout=300, check=False)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    script = tmp_path / "use_client.py"
    script.write_text(CLIENT_SCRIPT, "utf-8")
    # The whole flow, as an integrator's program: a batch in (one applicant with a mistake),
    # its progress and manifest, the register, a typed error, printing.
    good = example("jiangxi-personal") | {"ref": "GC-1"}
    bad = example("zhejiang-personal") | {"ref": "GC-2"}
    bad["websites"][0]["manager"]["mobile"] = "1234"
    used = subprocess.run([str(tools), str(script), str(out.parent), server, TOKEN,
                           json.dumps([good, bad], ensure_ascii=False)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert used.returncode == 0, used.stderr
    result = json.loads(used.stdout)
    assert result == {"job": ["done", 2, 2, 1], "errors": ["mobile_format"],
                      "page": True, "total": 3, "statuses": ["invalid", "ready", "ready"],
                      "record": True, "name": good["host"]["name"],
                      "missing": True, "code": "not_found",
                      "refused": True, "refused_code": "unauthorized",
                      # the record brought without files has no PDF to print
                      "printed": [200, "%PDF-"], "now_printed": 1, "live": 200}
