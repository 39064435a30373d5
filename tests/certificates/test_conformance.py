"""The committed conformance vectors (docs/conformance/) pass: each certificate, verified against the recorded
JSON-RPC answers of the chain it was issued on (served over HTTP by ``tests.vectors.replay``), gives exactly the
committed verdict of every check. Nothing is generated here: the certificates, files, chain answers and verdicts
are the committed ones (``python -m tests.vectors.make`` regenerates them from a real chain)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ledger.certificates.verify import Rpc
from tests.helpers import cli_env, run_cli
from tests.vectors.make import run_vector
from tests.vectors.replay import Replay, serve

DIR = Path(__file__).resolve().parents[2] / "docs" / "conformance"
INDEX = json.loads((DIR / "vectors.json").read_text(encoding="utf-8"))
VECTORS = {v["name"]: v for v in INDEX["vectors"]}


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[str, Replay]]:
    replay = Replay.load(DIR / "chain.json")
    with serve(replay) as url:
        yield url, replay


def _file(vector: dict[str, Any]) -> bytes | None:
    return (DIR / vector["file"]).read_bytes() if vector["file"] else None


def test_the_vectors_cover_every_kind_of_genuine_certificate_and_every_tamper_fails() -> None:
    genuine = {name for name, v in VECTORS.items() if v["verdict"] == "passed"}
    assert {"direct", "direct-hash-only", "sm3", "private", "batch", "licence"} <= genuine
    for name, v in VECTORS.items():
        assert (DIR / v["certificate"]).is_file(), name
        statuses = [c["status"] for c in v["checks"]]
        if name in genuine:
            assert "failed" not in statuses and statuses.count("passed") >= 8, name
        else:
            assert "failed" in statuses, f"{name}: a tamper that fails no check proves nothing"
    assert VECTORS["licence"]["status"] == "in_force"
    assert VECTORS["direct"]["status"] == "current" and VECTORS["superseded"]["status"] == "superseded"
    kinds = {
        json.loads((DIR / VECTORS[n]["certificate"]).read_bytes())["anchor"].get("method") for n in ("sm3", "batch")
    }
    assert kinds == {"direct", "batch"}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_each_vector_gives_its_committed_verdicts(node: tuple[str, Replay], name: str) -> None:
    url, replay = node
    vector = VECTORS[name]
    before = len(replay.misses)
    report = run_vector(
        (DIR / vector["certificate"]).read_bytes(),
        vector["kind"],
        _file(vector),
        vector["at"],
        Rpc.from_web3(Web3(Web3.HTTPProvider(url))),
    )
    got = [{"name": c.name, "status": c.status} for c in report.checks]
    assert got == vector["checks"], json.dumps(report.to_json(), indent=1)
    assert ("passed" if report.passed else "failed") == vector["verdict"]
    assert (report.status.state if report.status else None) == vector["status"]
    assert replay.misses[before:] == [], "the verifier asked the chain something that was not recorded"


def _cli(url: str, name: str, *extra: str) -> Any:
    vector = VECTORS[name]
    args = ["verify", str(DIR / vector["certificate"]), "--rpc-url", url, "--json", *extra]
    if vector["file"]:
        args += ["--file", str(DIR / vector["file"])]
    if vector["at"] is not None:
        args += ["--at", str(vector["at"])]
    out = run_cli(*args, env=cli_env())
    return out, json.loads(out.stdout) if out.stdout.strip().startswith("{") else None


@pytest.mark.parametrize(
    ("name", "exit_code", "detail"),
    [
        ("licence", 0, None),
        ("batch", 0, None),
        ("direct", 0, None),
        ("superseded", 3, None),
        ("licence-kind-label", 1, "agreement.kind 'pledge' disagrees with the signed terms"),
        ("direct-version-true", 1, "version True is not supported"),
        ("direct-duplicate-member", 1, "names the member 'version' twice"),
        ("direct-missing-salt", 1, "evidence.salt: required member missing"),
    ],
)
def test_ipledger_verify_gives_the_committed_verdicts(
    node: tuple[str, Replay], name: str, exit_code: int, detail: str | None
) -> None:
    url, _ = node
    out, report = _cli(url, name)
    assert report is not None, out.stdout + out.stderr
    assert out.returncode == exit_code == report["exitCode"], out.stdout + out.stderr
    assert [{"name": c["name"], "status": c["status"]} for c in report["checks"]] == VECTORS[name]["checks"]
    if detail is not None:
        assert any(detail in c["detail"] for c in report["checks"] if c["status"] == "failed"), report
    assert (report.get("status") or {}).get("state") == VECTORS[name]["status"]


def test_ipledger_verify_refuses_a_moment_that_is_not_a_time_for_an_evidence_certificate(
    node: tuple[str, Replay],
) -> None:
    url, _ = node
    out, report = _cli(url, "superseded", "--at", "soon")
    assert out.returncode != 0 and report is None and out.stdout == "", out.stdout + out.stderr
    assert "not a time" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_regenerating_the_vectors_on_a_new_chain_gives_the_committed_verdicts(tmp_path: Path) -> None:
    """``python -m tests.vectors.make`` still runs, and a fresh chain gives every vector the committed verdicts
    (hashes and times differ from run to run; the vectors, their checks and statuses do not)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tests.vectors.make", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=DIR.parents[1],
    )
    assert out.returncode == 0, out.stdout + out.stderr
    fresh = json.loads((tmp_path / "vectors.json").read_text(encoding="utf-8"))["vectors"]

    def essentials(v: dict[str, Any]) -> tuple[Any, ...]:
        return v["name"], v["kind"], v["verdict"], v.get("status"), json.dumps(v["checks"]), v["file"] is None

    assert [essentials(v) for v in fresh] == [essentials(v) for v in INDEX["vectors"]]
