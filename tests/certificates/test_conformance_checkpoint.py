"""The committed checkpoint vectors (docs/conformance/checkpoint/) pass: each certificate, verified against the
recorded answers of both chains (the consortium's chain.json and the public chain's anchor.json, each served over
HTTP by ``tests.vectors.replay``), gives exactly the committed checks, verdict and assurance. ``python -m
tests.vectors.make_checkpoint`` regenerates them from two real chains."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ledger.certificates.verify import Rpc
from tests.helpers import cli_env, run_cli
from tests.vectors.make_checkpoint import run_vector
from tests.vectors.replay import Replay, serve

DIR = Path(__file__).resolve().parents[2] / "docs" / "conformance" / "checkpoint"
INDEX = json.loads((DIR / "vectors.json").read_text(encoding="utf-8"))
VECTORS = {v["name"]: v for v in INDEX["vectors"]}


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[str, dict[int, str], list[Replay]]]:
    consortium = Replay.load(DIR / "chain.json")
    (chain_id, path), *_ = INDEX["anchorChains"].items()
    public = Replay.load(DIR / path)
    with serve(consortium) as url, serve(public) as anchor_url:
        yield url, {int(chain_id): anchor_url}, [consortium, public]


def test_the_vectors_hold_genuine_checkpoints_and_each_tamper_fails() -> None:
    assert VECTORS["checkpoint-direct"]["assurance"] == VECTORS["checkpoint-batch"]["assurance"] == "public"
    for name, v in VECTORS.items():
        names = [c["name"] for c in v["checks"]]
        assert names[-3:] == ["checkpoint-proof", "checkpoint-consortium", "checkpoint-anchor"], name
        if v["verdict"] == "failed":
            assert "failed" in [c["status"] for c in v["checks"]] and v["assurance"] == "none", name


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_each_checkpoint_vector_gives_its_committed_verdicts(
    nodes: tuple[str, dict[int, str], list[Replay]], name: str
) -> None:
    url, anchors, replays = nodes
    vector = VECTORS[name]
    before = [len(r.misses) for r in replays]
    report = run_vector(
        (DIR / vector["certificate"]).read_bytes(),
        (DIR / vector["file"]).read_bytes() if vector["file"] else None,
        Rpc.from_web3(Web3(Web3.HTTPProvider(url))),
        {cid: Rpc.from_web3(Web3(Web3.HTTPProvider(u))) for cid, u in anchors.items()},
    )
    got = [{"name": c.name, "status": c.status} for c in report.checks]
    assert got == vector["checks"], json.dumps(report.to_json(), indent=1)
    assert ("passed" if report.passed else "failed") == vector["verdict"]
    assert report.assurance is not None and report.assurance.level == vector["assurance"]
    assert [r.misses[b:] for r, b in zip(replays, before, strict=True)] == [[], []], "a request was not recorded"


def _cli(nodes: tuple[str, dict[int, str], list[Replay]], name: str, *extra: str) -> tuple[Any, Any]:
    url, anchors, _ = nodes
    vector = VECTORS[name]
    args = ["verify", str(DIR / vector["certificate"]), "--rpc-url", url, "--json", *extra]
    if vector["file"]:
        args += ["--file", str(DIR / vector["file"])]
    out = run_cli(*args, env=cli_env())
    return out, json.loads(out.stdout) if out.stdout.strip().startswith("{") else None


def test_ipledger_verify_reaches_the_public_chain_only_when_given_it(
    nodes: tuple[str, dict[int, str], list[Replay]],
) -> None:
    (anchor_url,) = nodes[1].values()
    out, report = _cli(nodes, "checkpoint-batch", "--anchor-rpc-url", anchor_url)
    assert out.returncode == 0 and report["assurance"]["level"] == "public", out.stdout + out.stderr
    out, report = _cli(nodes, "checkpoint-batch")
    assert out.returncode == 0 and report["assurance"]["level"] == "consortium", out.stdout + out.stderr
    assert [c["status"] for c in report["checks"] if c["name"] == "checkpoint-anchor"] == ["skipped"]
    out, report = _cli(nodes, "checkpoint-root", "--anchor-rpc-url", anchor_url)
    assert out.returncode == 1 and report["verdict"] == "failed", out.stdout + out.stderr


@pytest.mark.slow
def test_regenerating_the_checkpoint_vectors_on_new_chains_gives_the_committed_verdicts(tmp_path: Path) -> None:
    """``python -m tests.vectors.make_checkpoint`` still runs, and two fresh chains give every vector the committed
    checks, verdict and assurance (hashes and blocks differ from run to run)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tests.vectors.make_checkpoint", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=DIR.parents[2],
    )
    assert out.returncode == 0, out.stdout + out.stderr
    fresh = json.loads((tmp_path / "vectors.json").read_text(encoding="utf-8"))["vectors"]

    def essentials(v: dict[str, Any]) -> tuple[Any, ...]:
        return v["name"], v["verdict"], v["assurance"], v["status"], json.dumps(v["checks"])

    assert [essentials(v) for v in fresh] == [essentials(v) for v in INDEX["vectors"]]
