"""IP assets: validation of a registration, the claim it records, a verifier's decision on it, and the title
report (owners, licences and pledges at a time, from the registry's events). The contract enforces every rule
again; the checks here exist to give clear errors early. Agreements on an asset are ledger.services.agreements.

Registering a number records a *claim*: nothing is executed on an asset until an asset verifier (a party of
kind AssetVerifier, admitted by governance, owning no share of it) has confirmed it against the patent register;
a verifier may instead reject a false claim, which frees the number. Their decisions are signed with the
verifier's own key and relayed here (the service never holds it). Every answer states the asset's status.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.logs import DISCARD

from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.sender import SentTransaction
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import PartyKind
from ledger.domain.hashing import parse_hash
from ledger.domain.identifiers import (
    normalise_number,
)
from ledger.domain.inputs import TITLE_MAX, check_text
from ledger.domain.parties import as_cosigner, as_verifier, parse_account
from ledger.domain.results import (
    AssetDetails,
    AssetView,
    OwnerShareView,
    TitleView,
)
from ledger.domain.territory import from_mask
from ledger.errors import (
    AssetClaimConflict,
    Conflict,
    ContractRevert,
    InvalidInput,
    NotAnAssetVerifier,
    NotFound,
    SignatureRejected,
)
from ledger.services.parties import PartyService
from ledger.storage.journal import Store

JURISDICTIONS = {j.name: j for j in ag.AssetJurisdiction.choices()}
KINDS = {k.word: k for k in ag.AssetKind.choices()}
_AJ, _AK = ag.AssetJurisdiction, ag.AssetKind
#: The kinds each jurisdiction admits (the registry refuses others: AssetFault.JurisdictionAndKind), by their words.
ALLOWED_KINDS = {
    j.name: {k.word for k in kinds}
    for j, kinds in {
        _AJ.CN: (_AK.INVENTION, _AK.UTILITY_MODEL, _AK.DESIGN),
        _AJ.HK: (_AK.STANDARD_PATENT_R, _AK.STANDARD_PATENT_O, _AK.SHORT_TERM_PATENT),
        _AJ.PCT: (_AK.PCT_APPLICATION,),
        _AJ.OTHER: (_AK.INVENTION, _AK.UTILITY_MODEL, _AK.DESIGN, _AK.OTHER_PATENT),
    }.items()
}
#: The kind a CNIPA application number's type digit stands for (8 and 9: PCT applications entering China).
ASSET_VERIFIER_KIND = PartyKind.ASSET_VERIFIER
ASSET_STATUS_NAMES = {int(v): v.word for v in ag.AssetStatus}
ASSET_STATUS_NOTES = ag.ASSET_STATUS_NOTES
# The input a verifier's refused decision is about.
DECISION_REVERT_FIELDS = {
    "AssetStatusInvalid": "asset_id",
    "AssetIsFrozen": "asset_id",
    "AssetVerifierInvalid": "signer",
    "AssetVerifierIsOwner": "signer",
    "AgreementSignerNotActive": "signer",
    "AgreementSignatureInvalid": "signature",
    "SignatureExpired": "deadline",
    "SignatureDeadlineTooFar": "deadline",
}


class AssetService:
    """Assets and claims. Receives the chain connection, the party service (owners, signers, verifiers) and the
    journal (asset details)."""

    def __init__(self, conn: Connection, parties: PartyService, journal: Store) -> None:
        self.conn = conn
        self.parties = parties
        self.journal = journal

    @property
    def contract(self) -> Any:
        return self.conn.assets

    def domain(self) -> eip712.Domain:
        return ag.assets_domain(self.conn.manifest.chain_id, self.conn.manifest.address("IPAssetRegistry"))

    def _send(self, fn: Any) -> SentTransaction:
        sent = self.conn.require_relayer().send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent

    def _chain_time(self) -> int:
        return self.conn.latest_time()

    def _party_count(self) -> int:
        return self.parties.count()

    def check_party(self, party_id: Any, field: str) -> int:
        """``party_id`` when it is the id of an admitted party; otherwise InvalidInput naming ``field``."""
        if not isinstance(party_id, int) or isinstance(party_id, bool) or not 1 <= party_id <= self._party_count():
            raise InvalidInput(f"{party_id!r} is not an admitted party", field=field)
        return party_id

    # --- assets ---

    def registration(self, body: dict[str, Any]) -> tuple[ag.AssetRegistration, dict[str, Any]]:
        """Validates an asset registration; returns the typed registration and its off-chain details."""
        jurisdiction = str(body.get("jurisdiction", "")).upper()
        if jurisdiction not in JURISDICTIONS:
            raise InvalidInput("jurisdiction must be CN, HK, PCT or OTHER", field="jurisdiction")
        kind = str(body.get("kind", "")).lower()
        if kind not in ALLOWED_KINDS[jurisdiction]:
            raise InvalidInput(
                f"kind must be one of {', '.join(sorted(ALLOWED_KINDS[jurisdiction]))} for {jurisdiction}", field="kind"
            )
        number, kind = normalise_number(jurisdiction, kind, str(body.get("number", "")))
        owners = body.get("owners") or []
        if not owners or len(owners) > 8:
            raise InvalidInput("an asset has 1 to 8 owners", field="owners")
        ids = [self.check_party(o.get("partyId"), f"owners[{i}].partyId") for i, o in enumerate(owners)]
        if len(set(ids)) != len(ids):
            raise InvalidInput("an owner is listed twice", field="owners")
        shares = [ag.parse_bps(o.get("share"), f"owners[{i}].share") for i, o in enumerate(owners)]
        if sum(shares) != 10_000:
            raise InvalidInput(f"shares sum to {sum(shares)} basis points, not 10000 (100%)", field="owners")
        title = check_text(
            body.get("title") or "", "title", max_length=TITLE_MAX
        ).strip()  # NFC, no control/bidi/zero-width
        if not title:
            raise InvalidInput(f"a title of 1 to {TITLE_MAX} characters is required", field="title")
        filing, grant = (
            ag.parse_date(body.get("filingDate"), "filingDate"),
            ag.parse_date(body.get("grantDate"), "grantDate"),
        )
        if filing and grant and grant < filing:
            raise InvalidInput("the grant date is before the filing date", field="grantDate")
        evidence = [("0x" + parse_hash(h, f"evidence[{i}]").hex()) for i, h in enumerate(body.get("evidence") or [])]
        details = {"number": number, "title": title, "filingDate": filing, "grantDate": grant, "evidence": evidence}
        deadline = int(body.get("deadline") or 0) or self._chain_time() + ag.DEFAULT_SIGNING_WINDOW
        ag.check_signing_window(deadline, self._chain_time())
        reg = ag.AssetRegistration(
            int(JURISDICTIONS[jurisdiction]),
            int(KINDS[kind]),
            ag.number_hash(number),
            tuple(ids),
            tuple(shares),
            hashlib.sha256(canonical_json(details)).digest(),
            deadline,
        )
        taken = int(call(self.contract.functions.assetByNumber(reg.number_hash)))
        if (
            taken and int(call(self.contract.functions.assetStatus(taken))) != ag.AssetStatus.STRUCK
        ):  # a struck claim frees it
            raise Conflict(
                f"{number} is already registered (asset {taken}); if that claim is false, an asset verifier can "
                "reject it, or an arbitral award give it to its rightful owner",
                field="number",
            )
        return reg, details

    def register(self, body: dict[str, Any], signatures: list[dict[str, str]]) -> AssetView:
        reg, details = self.registration(body)
        sigs = self.parse_signatures(signatures, reg.message(self.domain()), set(reg.owners))
        sent = self._send(self.contract.functions.registerAsset(reg.as_tuple(), sigs))
        event = self.contract.events.AssetRegistered().process_receipt(sent.receipt, errors=DISCARD)[0]
        asset_id = int(event["args"]["assetId"])
        self.journal.put_asset_details(asset_id, details)
        return {**self.show(asset_id), "transactionHash": sent.tx_hash}

    def show(self, asset_id: int) -> AssetView:
        if asset_id < 1 or asset_id > int(call(self.contract.functions.assetCount())):
            raise NotFound(f"no asset {asset_id}", field="asset_id")
        jurisdiction, kind, owners, shares, frozen = call(self.contract.functions.asset(asset_id))
        status = ASSET_STATUS_NAMES[int(call(self.contract.functions.assetStatus(asset_id)))]
        # what register() wrote (the journal keeps it as JSON)
        details = cast("AssetDetails | None", self.journal.asset_details(asset_id))
        return {
            "assetId": asset_id,
            "jurisdiction": ag.AssetJurisdiction(jurisdiction).name,
            "kind": ag.AssetKind(kind).word,
            "status": status,
            "statusNote": ASSET_STATUS_NOTES[status],
            "owners": [{"partyId": int(p), "share": int(s)} for p, s in zip(owners, shares, strict=True)],
            "frozen": bool(frozen),
            "details": details,
        }

    # --- a verifier's decision on a claim ---

    def decision_payload(self, asset_id: int, decision: str, hash_value: str, deadline: int) -> dict[str, Any]:
        """The EIP-712 ``AssetConfirmation`` (decision "confirm", hash = the register extract's) or
        ``ClaimRejection`` ("reject", hash = the reasons') an asset verifier signs with its own key."""
        self._open_claim(asset_id)
        digest = parse_hash(hash_value, "registerExtractHash" if decision == "confirm" else "reasonHash")
        ag.check_signing_window(deadline, self._chain_time())
        build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
        return build(self.domain(), asset_id, digest, deadline)

    def decide(
        self, asset_id: int, decision: str, hash_value: str, deadline: int, signer: str, signature: str
    ) -> dict[str, Any]:
        """Relays an asset verifier's signed confirmation or rejection of a claim, after checking it here: the
        claim is open (neither confirmed nor struck) and not frozen, the signer is an account of an active
        verifier party that owns no share of the asset, and the signature verifies."""
        hash_field = "registerExtractHash" if decision == "confirm" else "reasonHash"
        asset = self._open_claim(asset_id)
        digest = parse_hash(hash_value, hash_field)
        now = self._chain_time()
        if deadline < now:
            raise InvalidInput("the signing deadline has passed", field="deadline")
        ag.check_signing_window(deadline, now)
        account = parse_account(signer, "signer")

        def verifier(party_id: int) -> None:
            if party_id == 0 or self.parties.profile(party_id)["kind"] != ASSET_VERIFIER_KIND:
                raise NotAnAssetVerifier(
                    "AssetVerifierInvalid",
                    {"account": account, "partyId": party_id},
                    f"{account} is not an account of an asset verifier party (admitted by governance)",
                    field="signer",
                )

        party_id = self.parties.active_party(account, field="signer", refuse=as_verifier, among=verifier)
        if party_id in {o["partyId"] for o in asset["owners"]}:
            raise AssetClaimConflict(
                "AssetVerifierIsOwner",
                {"assetId": asset_id, "partyId": party_id},
                f"party {party_id} owns a share of asset {asset_id}: a verifier cannot decide its own claim",
                field="signer",
            )
        sig = ag.parse_signature(signature)
        build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
        if (
            not self.conn.w3.eth.get_code(account)
            and eip712.recover(build(self.domain(), asset_id, digest, deadline), sig) != account
        ):
            raise SignatureRejected(
                "AgreementSignatureInvalid",
                {"signer": account},
                f"the signature does not verify for this {decision} of asset {asset_id} by {account}",
                field="signature",
            )
        fn = self.contract.functions.confirmAsset if decision == "confirm" else self.contract.functions.rejectClaim
        try:
            sent = self._send(fn(asset_id, digest, account, deadline, sig))
        except ContractRevert as exc:
            exc.field = exc.field or DECISION_REVERT_FIELDS.get(exc.name)
            raise
        return {
            **self.show(asset_id),
            "verifierPartyId": party_id,
            hash_field: "0x" + digest.hex(),
            "transactionHash": sent.tx_hash,
        }

    def _open_claim(self, asset_id: int) -> AssetView:
        asset = self.show(asset_id)
        if asset["status"] != "claimed":
            raise AssetClaimConflict(
                "AssetStatusInvalid",
                {"assetId": asset_id, "status": asset["status"]},
                f"asset {asset_id} is {asset['status']}, not an open claim: a confirmed title changes only "
                "by an arbitral award",
                field="asset_id",
            )
        if asset["frozen"]:
            raise AssetClaimConflict(
                "AssetIsFrozen",
                {"assetId": asset_id},
                f"asset {asset_id} is frozen by an open dispute: the award decides it",
                field="asset_id",
            )
        return asset

    # --- signatures of parties, checked before they are relayed (registrations here, terminations in agreements) ---

    def parse_signatures(
        self, signatures: list[dict[str, str]], message: dict[str, Any], parties: set[int]
    ) -> list[tuple[ChecksumAddress, bytes]]:
        """Checks each signature early: a known account of one of ``parties``, once each, verifying for ``message``."""
        out = []
        seen: set[int] = set()
        for i, s in enumerate(signatures):
            account = parse_account(str(s.get("signer", "")), f"signatures[{i}].signer")
            sig = ag.parse_signature(str(s.get("signature", "")), f"signatures[{i}].signature")

            def of_parties(party_id: int, i: int = i, account: str = account) -> None:
                if party_id not in parties:
                    raise InvalidInput(
                        f"signatures[{i}] is by {account}, not an account of the parties {sorted(parties)}",
                        field=f"signatures[{i}].signer",
                    )

            party_id = self.parties.active_party(
                account, field=f"signatures[{i}].signer", refuse=as_cosigner, among=of_parties
            )
            if party_id in seen:
                raise Conflict(f"party {party_id} signed twice", field=f"signatures[{i}].signer")
            seen.add(party_id)
            if not self.conn.w3.eth.get_code(account) and eip712.recover(message, sig) != account:
                raise SignatureRejected(
                    "SignatureInvalid",
                    {"signer": account},
                    f"signatures[{i}] does not verify for {account}",
                    field=f"signatures[{i}].signature",
                )
            out.append((account, sig))
        return out

    # --- the chain of title ---

    def title(self, asset_id: int, at: int | None = None) -> TitleView:
        """Owners, licences and pledges in force at ``at`` (default now), and the full history in time order."""
        self.show(asset_id)
        events = self._history(asset_id)
        at = int(at if at is not None else self._chain_time())
        owners: list[OwnerShareView] = []
        owners_since: int | None = None
        title_agreement: str | None = None
        effective: dict[str, dict[str, Any]] = {}
        status = "claimed"
        decided_by: dict[str, Any] | None = None  # the verifier's decision standing at `at`
        for e in events:
            if e["time"] > at:
                break
            if e["event"] in ("AssetConfirmed", "ClaimRejected"):
                status = "confirmed" if e["event"] == "AssetConfirmed" else "struck"
                decided_by = {
                    "verifierPartyId": e["verifierPartyId"],
                    "time": e["time"],
                    "transactionHash": e["transactionHash"],
                    **{k: e[k] for k in ("registerExtractHash", "reasonHash") if k in e},
                }
            elif e["event"] in ("AssetRegistered", "TitleTransferred", "TitleRestored"):
                owners, owners_since, title_agreement = (
                    e["owners"],
                    e["time"],
                    e.get("agreementId") or e.get("disputeId"),
                )
            elif e["event"] == "AgreementExecuted" and e["kind"] in {
                k.word for k in ag.AgreementKind.choices() if k.termed
            }:
                effective[e["agreementId"]] = e
            elif e["event"] in ("AgreementTerminated", "PledgeReleased", "AgreementVoided"):
                effective.pop(e["agreementId"], None)
        licences, pledges, ended = [], [], []
        for aid, e in effective.items():
            g = call(self.contract.functions.agreement(bytes.fromhex(aid[2:])))
            parent = "0x" + bytes(g[11]).hex()
            if (
                e["kind"] == ag.AgreementKind.LICENCE.word
                and g[11] != b"\0" * 32
                and parent not in effective
                and int(g[7]) <= at
            ):
                # the parent licence was terminated or voided by `at`: its sublicences ended with it
                ended.append(
                    {
                        "agreementId": aid,
                        "licensee": int(g[13][0]),
                        "endedAt": int(g[7]),
                        "parentLicence": parent,
                        "reason": f"ended with parent licence {parent}",
                    }
                )
                continue
            if not (int(g[4]) <= at < int(g[5])):
                continue
            entry = {
                "agreementId": aid,
                "party": int(g[13][0]),
                "start": int(g[4]),
                "end": int(g[5]),
                "effectiveAt": int(g[6]),
            }
            if e["kind"] == ag.AgreementKind.LICENCE.word:
                entry |= {
                    "licensee": entry.pop("party"),
                    "licenceType": ag.LicenceType(g[2]).word,
                    "territory": from_mask(int(g[9])),
                    "sublicence": g[11] != b"\0" * 32,
                    "licensors": [int(p) for p in g[12]],
                }
                licences.append(entry)
            else:
                entry |= {"pledgee": entry.pop("party"), "pledgors": [int(p) for p in g[12]]}
                pledges.append(entry)
        return {
            "assetId": asset_id,
            "at": at,
            "status": status,
            "statusNote": ASSET_STATUS_NOTES[status],
            "statusDecidedBy": decided_by,
            "owners": owners,
            "ownersSince": owners_since,
            "underAgreement": title_agreement,
            "licences": licences,
            "pledges": pledges,
            "endedWithParent": ended,
            "history": events,
        }

    def _history(self, asset_id: int) -> list[dict[str, Any]]:
        c = self.contract
        start = self.conn.manifest.contracts["IPAssetRegistry"].deploy_block
        out: list[dict[str, Any]] = []
        times: dict[int, int] = {}

        def block_time(n: int) -> int:
            if n not in times:
                times[n] = int(self.conn.w3.eth.get_block(n)["timestamp"])
            return times[n]

        for name in (
            "AssetRegistered",
            "AssetConfirmed",
            "ClaimRejected",
            "ClaimStruck",
            "TitleTransferred",
            "AgreementExecuted",
            "AgreementTerminated",
            "PledgeReleased",
            "AssetFrozen",
            "AssetUnfrozen",
            "AgreementVoided",
            "TitleRestored",
            "AgreementWithdrawn",
        ):
            for log in getattr(c.events, name)().get_logs(from_block=start, argument_filters={"assetId": asset_id}):
                args = log["args"]
                e: dict[str, Any] = {
                    "event": name,
                    "block": int(log["blockNumber"]),
                    "logIndex": int(log["logIndex"]),
                    "time": block_time(int(log["blockNumber"])),
                    "transactionHash": Web3.to_hex(log["transactionHash"]),
                }
                if "agreementId" in args:
                    e["agreementId"] = "0x" + bytes(args["agreementId"]).hex()
                if "owners" in args:
                    e["owners"] = [
                        {"partyId": int(p), "share": int(s)}
                        for p, s in zip(args["owners"], args["shares"], strict=True)
                    ]
                if name == "AgreementExecuted":
                    e["kind"] = ag.AgreementKind(args["kind"]).word
                    e["documentHash"] = "0x" + bytes(args["documentHash"]).hex()
                if "disputeId" in args:
                    e["disputeId"] = "0x" + bytes(args["disputeId"]).hex()
                if "verifierPartyId" in args:
                    e["verifierPartyId"] = int(args["verifierPartyId"])
                for key in ("registerExtractHash", "reasonHash"):
                    if key in args:
                        e[key] = "0x" + bytes(args[key]).hex()
                if "formerOwners" in args:
                    e["formerOwners"] = [int(p) for p in args["formerOwners"]]
                out.append(e)
        out.sort(key=lambda e: (e["block"], e["logIndex"]))
        return out
