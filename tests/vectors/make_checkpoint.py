"""Regenerates the checkpoint conformance vectors of docs/conformance/checkpoint/ from two real chains.

    python -m tests.vectors.make_checkpoint [--out docs/conformance/checkpoint]

It starts the embedded anvil node (the consortium stand-in, chain id 31337) and a second anvil (the public
stand-in, chain id 31338), deploys the suite on the first, admits a firm, registers a file directly and a batch of
two, and has the service's checkpoint writer deploy ``CheckpointRegistry`` on the second and record a checkpoint
covering them, with 3 confirmations. It fetches both certificates (each with its ``checkpoint`` entry) and derives
single-field tampers of the checkpoint entry.

Every vector is verified by ``ledger.certificates`` against both chains with every JSON-RPC exchange recorded:
the consortium's into ``chain.json``, the public chain's into ``anchor.json`` (the format of docs/conformance/
README.md). As in ``tests.vectors.make``, the checks each tamper fails are declared and the generator stops if
the verifier disagrees.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.certificates.evidence import CertificateMalformed, loads
from ledger.certificates.verify import FAILED, Report, Rpc, verify
from ledger.chain.node import EmbeddedNode, free_port
from ledger.config import Settings
from ledger.domain.hashing import hash_bytes
from ledger.facade import Ledger
from tests.anchor_node import PUBLIC_CHAIN_ID, PublicNode
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.helpers import account, make_anvil_chain, make_uscc
from tests.vectors.make import _flip, _recording_rpc, _text

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "conformance" / "checkpoint"


@dataclass
class Vector:
    name: str
    description: str
    certificate: bytes
    file: bytes | None
    fails: set[str] = field(default_factory=set)


def run_vector(text: bytes, file: bytes | None, rpc: Rpc, anchors: dict[int, Rpc]) -> Report:
    """Verifies one vector as ``ipledger verify --anchor-rpc-url`` does."""
    try:
        doc = loads(text)
    except CertificateMalformed as exc:
        report = Report()
        report.add("format", False, "", exc.message)
        return report
    return verify(doc, rpc, file=io.BytesIO(file) if file is not None else None, anchors=anchors)


def _produce(api: Api, public: PublicNode) -> dict[str, tuple[dict[str, Any], bytes]]:
    firm = account("vector-checkpoint-firm")
    api.admit(firm, make_uscc("vector-checkpoint"), nameEn="Qianhai Checkpoint Example Co., Ltd.")
    drawing = b"Checkpointed design drawing, revision A\n"
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, hash_bytes(drawing, 1)))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    items = [b"checkpointed source file 1\n", b"checkpointed source file 2\n"]
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [hash_bytes(i, 1) for i in items]))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    api.ledger.pipeline.step()
    api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    cp = api.ledger.checkpoints
    cp.step()
    cp.step()
    public.mine(3)
    cp.step()
    assert [s["lastError"] for s in cp.status()] == [None], cp.status()

    def cert(content: bytes) -> dict[str, Any]:
        resp = api.client.get(f"/v1/evidence/0x{hash_bytes(content, 1).hex()}/certificate")
        assert resp.status_code == 200 and "checkpoint" in resp.json(), resp.text
        return resp.json()  # type: ignore[no-any-return]

    return {"direct": (cert(drawing), drawing), "batch": (cert(items[1]), items[1])}


def _vectors(genuine: dict[str, tuple[dict[str, Any], bytes]]) -> list[Vector]:
    direct, drawing = genuine["direct"]
    batch, item = genuine["batch"]

    def tamper(key: str, change: Any) -> bytes:
        doc = copy.deepcopy(direct)
        entry = doc["checkpoint"][0]
        entry[key] = change(entry[key])
        return _text(doc)

    path = copy.deepcopy(direct)
    if path["checkpoint"][0]["proof"]["path"]:
        path["checkpoint"][0]["proof"]["path"][0] = _flip(path["checkpoint"][0]["proof"]["path"][0])
    else:  # a checkpoint of one leaf has no path: move the index instead
        path["checkpoint"][0]["proof"]["size"] += 1
    return [
        Vector(
            "checkpoint-direct",
            "direct registration covered by a checkpoint on the public chain",
            _text(direct),
            drawing,
        ),
        Vector(
            "checkpoint-batch",
            "batch item whose batch root a checkpoint on the public chain covers",
            _text(batch),
            item,
        ),
        Vector(
            "checkpoint-root",
            "checkpoint[0].root, last hex digit changed",
            tamper("root", _flip),
            drawing,
            {"checkpoint-proof", "checkpoint-anchor"},
        ),
        Vector(
            "checkpoint-proof-path",
            "checkpoint[0].proof.path[0], last hex digit changed",
            _text(path),
            drawing,
            {"checkpoint-proof"},
        ),
        Vector(
            "checkpoint-consortium-hash",
            "checkpoint[0].consortiumBlockHash, last hex digit changed",
            tamper("consortiumBlockHash", _flip),
            drawing,
            {"checkpoint-consortium", "checkpoint-anchor"},
        ),
        Vector(
            "checkpoint-transaction",
            "checkpoint[0].transactionHash, last hex digit changed",
            tamper("transactionHash", _flip),
            drawing,
            {"checkpoint-anchor"},
        ),
        Vector(
            "checkpoint-range",
            "checkpoint[0].fromBlock moved past the record's block",
            tamper("fromBlock", lambda _: int(direct["anchor"]["blockNumber"]) + 1),
            drawing,
            {"checkpoint-proof", "checkpoint-anchor"},
        ),
    ]


def make(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ipledger-checkpoint-vectors-") as tmp:
        node = EmbeddedNode(Path(tmp) / "node", port=free_port())
        node.start()
        public = PublicNode(free_port()).start()
        try:
            chain = make_anvil_chain(node.rpc_url)
            settings = Settings(
                data_dir=Path(tmp) / "data",
                operator_token=OPERATOR_TOKEN,
                confirmations=1,
                final_after=0,
                public_url="http://127.0.0.1:8000",
                anchor_rpc_url=public.url,
                anchor_confirmations=3,
            )
            chain.manifest.save(Path(tmp) / "data" / "deployments" / f"{chain.manifest.chain_id}.json")
            ledger = Ledger(
                w3=chain.w3,
                manifest=chain.manifest,
                settings=settings,
                relayer=chain.sender,
                registrar=chain.registrar_sender,
                governance=chain.governance_sender,
            )
            key = account("vector-checkpoint-anchor")
            public.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])  # type: ignore[arg-type]
            ledger.anchor_account = key
            app = create_app(ledger, settings, run_pipeline=False)
            with TestClient(app, raise_server_exceptions=False) as client:
                genuine = _produce(Api(client, ledger, chain), public)
            ledger.close()
            consortium: dict[str, dict[str, Any]] = {}
            anchored: dict[str, dict[str, Any]] = {}
            rpc = _recording_rpc(chain.w3, consortium)
            anchors = {PUBLIC_CHAIN_ID: _recording_rpc(public.w3, anchored)}
            results = []
            for v in _vectors(genuine):
                report = run_vector(v.certificate, v.file, rpc, anchors)
                failed = {c.name for c in report.checks if c.status == FAILED}
                if failed != v.fails:
                    raise SystemExit(
                        f"{v.name}: the verifier failed {sorted(failed)}, declared {sorted(v.fails)}:\n"
                        + json.dumps(report.to_json(), indent=2)
                    )
                results.append((v, report))
        finally:
            public.stop()
            node.stop()
    _write(out, results, list(consortium.values()), list(anchored.values()), chain.manifest.chain_id)


def _write(
    out: Path,
    results: list[tuple[Vector, Report]],
    consortium: list[dict[str, Any]],
    anchored: list[dict[str, Any]],
    chain_id: int,
) -> None:
    for sub in ("certificates", "files"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    index = []
    for v, report in results:
        cert_path = f"certificates/{v.name}.json"
        (out / cert_path).write_bytes(v.certificate)
        file_path = None
        if v.file is not None:
            file_path = f"files/{hashlib.sha256(v.file).hexdigest()[:16]}.bin"
            (out / file_path).write_bytes(v.file)
        index.append(
            {
                "name": v.name,
                "description": v.description,
                "kind": "evidence",
                "certificate": cert_path,
                "file": file_path,
                "at": None,
                "verdict": "passed" if report.passed else "failed",
                "checks": [{"name": c.name, "status": c.status} for c in report.checks],
                "status": report.status.state if report.status is not None else None,
                "assurance": report.assurance.level if report.assurance is not None else None,
            }
        )
    doc = {"chainId": chain_id, "anchorChains": {str(PUBLIC_CHAIN_ID): "anchor.json"}, "vectors": index}
    (out / "vectors.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "chain.json").write_text(json.dumps(consortium, indent=1) + "\n", encoding="utf-8")
    (out / "anchor.json").write_text(json.dumps(anchored, indent=1) + "\n", encoding="utf-8")
    print(f"{len(index)} vectors, {len(consortium)} + {len(anchored)} recorded JSON-RPC answers written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the vectors' directory")
    make(parser.parse_args().out)


if __name__ == "__main__":
    main()
