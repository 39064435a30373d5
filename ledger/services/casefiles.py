"""Case files as the service assembles them: everything on chain about a dispute's subject, in time order, each
item with the certificate or proof an arbitrator re-checks alone against any JSON-RPC endpoint
(``ledger.certificates.casefile.verify_case``, which also documents the ZIP's layout).

Guarantees: items are ordered by block and log index, the ZIP's entries carry fixed timestamps; an evidence hash
that cannot be certified (yet) and an agreement executed outside this service are left out rather than failing
the whole file. Everything is read from the chain (and the proposals this service keeps) at build time.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from web3 import Web3

from ledger.certificates.casefile import FORMAT, VERSION, render_summary
from ledger.chain.connection import Connection
from ledger.domain.codes import PartyKind
from ledger.errors import InvalidInput, NotFound
from ledger.services.agreements import AgreementService
from ledger.services.assets import AssetService
from ledger.services.disputes import DisputeService
from ledger.services.evidence import CertificateBuilder
from ledger.services.parties import PartyService


class CaseFileService:
    """Builds a dispute's case file. Receives the chain connection, the dispute service (the dispute), the asset
    service (the asset's title history and details), the agreement service (agreement certificates), the
    evidence certificate builder and the party service (the names of the parties the case names)."""

    def __init__(
        self,
        conn: Connection,
        disputes: DisputeService,
        assets: AssetService,
        agreements: AgreementService,
        certificates: CertificateBuilder,
        parties: PartyService,
    ) -> None:
        self.conn = conn
        self.disputes = disputes
        self.assets = assets
        self.agreements = agreements
        self.certificates = certificates
        self.parties = parties

    def build(self, dispute_id: str) -> bytes:
        """The case file of dispute ``dispute_id`` (a ZIP; see :mod:`ledger.certificates.casefile`)."""
        svc = self.disputes
        dispute = svc.show(dispute_id)
        w3 = self.conn.w3
        items: list[dict[str, Any]] = []

        # the dispute's own transactions
        logs = svc.contract.events.DisputeOpened().get_logs(
            from_block=self.conn.manifest.contracts["DisputeRegistry"].deploy_block,
            argument_filters={"disputeId": bytes.fromhex(dispute["disputeId"][2:])},
        )
        closes = svc.contract.events.DisputeClosed().get_logs(
            from_block=self.conn.manifest.contracts["DisputeRegistry"].deploy_block,
            argument_filters={"disputeId": bytes.fromhex(dispute["disputeId"][2:])},
        )
        for name, found in (("dispute-opened", logs), ("dispute-closed", closes)):
            for log in found:
                items.append(
                    _tx_item(
                        w3,
                        name,
                        log,
                        {
                            "dispute": dispute,
                            "contract": self.conn.manifest.address("DisputeRegistry"),
                            "chainId": self.conn.manifest.chain_id,
                        },
                    )
                )

        asset_id = dispute.get("assetId")
        if asset_id:
            assets = self.assets
            title = assets.title(asset_id)
            for e in title["history"]:
                e = {**e, "blockHash": Web3.to_hex(w3.eth.get_block(e["block"])["hash"])}
                items.append(
                    {
                        "kind": "title-event",
                        "time": e["time"],
                        "block": e["block"],
                        "logIndex": e["logIndex"],
                        "document": {
                            "format": "qianhai-ip-ledger/title-event",
                            "version": 1,
                            "assetId": asset_id,
                            "chain": {
                                "chainId": self.conn.manifest.chain_id,
                                "contract": self.conn.manifest.address("IPAssetRegistry"),
                            },
                            **e,
                        },
                    }
                )
                if e["event"] == "AgreementExecuted":
                    try:
                        cert = self.agreements.certificate(e["agreementId"])
                    except (NotFound, InvalidInput):  # executed outside this service: its terms are not stored here
                        continue
                    items.append(
                        {
                            "kind": "agreement-certificate",
                            "time": e["time"],
                            "block": e["block"],
                            "logIndex": e["logIndex"],
                            "document": cert,
                        }
                    )
            details: Mapping[str, Any] = assets.show(asset_id).get("details") or {}
            evidence = details.get("evidence") or []
        else:
            evidence = [dispute["subjectId"]] if dispute["subject"] == "evidence" else []
        for content_hash in evidence:
            try:
                cert = self.certificates.build(bytes.fromhex(str(content_hash)[2:]))
            except Exception:  # noqa: BLE001 - not (yet) certifiable: listed without a certificate
                continue
            an = cert["anchor"]
            items.append(
                {
                    "kind": "evidence-certificate",
                    "time": an["blockTimestamp"],
                    "block": an["blockNumber"],
                    "logIndex": -1,
                    "document": cert,
                }
            )

        items.sort(key=lambda i: (i["block"], i["logIndex"]))
        asset_view = self.assets.show(asset_id) if asset_id else None
        parties = self._parties(dispute, [i["document"] for i in items], asset_view)
        entries = []
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, item in enumerate(items, start=1):
                name = f"items/{n:03d}-{item['kind']}.json"
                zf.writestr(_info(name), json.dumps(item["document"], indent=1, ensure_ascii=False))
                entries.append({"file": name, "kind": item["kind"], "time": item["time"], "block": item["block"]})
            case = {
                "format": FORMAT,
                "version": VERSION,
                "dispute": dispute,
                "chainId": self.conn.manifest.chain_id,
                "items": entries,
                "parties": parties,
            }
            if asset_view is not None:
                case["asset"] = {
                    "assetId": asset_view["assetId"],
                    "jurisdiction": asset_view["jurisdiction"],
                    "kind": asset_view["kind"],
                    **{
                        k: v
                        for k, v in (asset_view.get("details") or {}).items()
                        if k in ("number", "title", "filingDate", "grantDate")
                    },
                }
            zf.writestr(_info("case.json"), json.dumps(case, indent=1, ensure_ascii=False))
            documents = {e["file"]: item["document"] for e, item in zip(entries, items, strict=True)}
            zf.writestr(_info("summary.pdf"), render_summary(case, documents))
        return buf.getvalue()

    def _parties(
        self, dispute: Mapping[str, Any], documents: list[dict[str, Any]], asset: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Every party the case names (the dispute's, the owners, grantees, signers and verifiers of its records),
        by id, kind, identifier and names, as the party registry reads now: so the summary names them."""
        ids: set[int] = {int(dispute[k]) for k in ("claimant", "respondent", "institution") if dispute.get(k)}
        for o in (asset or {}).get("owners", []):
            ids.add(int(o["partyId"]))
        for doc in documents:
            ids.update(int(o["partyId"]) for o in doc.get("owners", []))
            ids.update(int(p) for p in doc.get("formerOwners", []))
            if doc.get("verifierPartyId"):
                ids.add(int(doc["verifierPartyId"]))
            ids.update(int(p["partyId"]) for p in doc.get("parties", []))
            if isinstance(doc.get("registrant"), dict):
                ids.add(int(doc["registrant"]["partyId"]))
        out = []
        for pid in sorted(ids):
            p = self.parties.profile(pid)
            out.append(
                {
                    "partyId": pid,
                    "kind": PartyKind(int(p["kind"])).word,
                    **{k: p[k] for k in ("identifierScheme", "identifier", "nameZh", "nameEn")},
                }
            )
        return out


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))  # deterministic archives
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _tx_item(w3: Any, kind: str, log: Any, extra: dict[str, Any]) -> dict[str, Any]:
    block = w3.eth.get_block(log["blockNumber"])
    return {
        "kind": kind,
        "time": int(block["timestamp"]),
        "block": int(log["blockNumber"]),
        "logIndex": int(log["logIndex"]),
        "document": {
            "format": f"qianhai-ip-ledger/{kind}",
            "version": 1,
            **extra,
            "transactionHash": Web3.to_hex(log["transactionHash"]),
            "blockNumber": int(log["blockNumber"]),
            "blockHash": Web3.to_hex(block["hash"]),
            "blockTimestamp": int(block["timestamp"]),
        },
    }
