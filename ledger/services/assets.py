"""IP assets and agreements: validation, proposals journalled off chain, signatures, execution and the
title report. The contract enforces every rule again; the checks here exist to give clear errors early.

Registering a number records a *claim*: nothing is executed on an asset until an asset verifier (a party of
kind AssetVerifier, admitted by governance, owning no share of it) has confirmed it against the patent register;
a verifier may instead reject a false claim, which frees the number. Their decisions are signed with the
verifier's own key and relayed here (the service never holds it). Every answer states the asset's status.

An agreement is *proposed* (terms and details stored in the journal, its id = the EIP-712 struct hash of
the terms), *signed* by each party with its own key (signatures are collected here, checked as they
arrive), and *executed* in one transaction carrying every signature. Details that do not go on chain
(royalty, values, amounts, recordation) are committed by the SHA-256 of their canonical JSON.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from typing import Any, cast

from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from ledger.chain.connection import Connection
from ledger.chain.codec import call
from ledger.chain.sender import SentTransaction
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import IdentifierScheme, PartyKind
from ledger.domain.hashing import parse_hash
from ledger.domain.identifiers import (
    parse_cn_patent_number,
    validate_hk_patent_number,
    validate_other_identifier,
)
from ledger.domain.inputs import (
    FIELD_OF_USE_MAX,
    SHORT_TEXT_MAX,
    TITLE_MAX,
    check_text,
    parse_decimal,
)
from ledger.domain.parties import as_cosigner, as_signer, as_verifier, parse_account
from ledger.domain.results import (
    AgreementView,
    AssetDetails,
    AssetView,
    CertificateDocument,
    OwnerShareView,
    TitleView,
)
from ledger.domain.territory import from_mask, to_mask
from ledger.errors import (
    AssetClaimConflict,
    AssetNotConfirmed,
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
ALLOWED_KINDS = {j.name: {k.word for k in kinds} for j, kinds in {
    _AJ.CN: (_AK.INVENTION, _AK.UTILITY_MODEL, _AK.DESIGN),
    _AJ.HK: (_AK.STANDARD_PATENT_R, _AK.STANDARD_PATENT_O, _AK.SHORT_TERM_PATENT),
    _AJ.PCT: (_AK.PCT_APPLICATION,),
    _AJ.OTHER: (_AK.INVENTION, _AK.UTILITY_MODEL, _AK.DESIGN, _AK.OTHER_PATENT),
}.items()}
#: The kind a CNIPA application number's type digit stands for (8 and 9: PCT applications entering China).
CN_TYPE_KIND = {1: _AK.INVENTION.word, 2: _AK.UTILITY_MODEL.word, 3: _AK.DESIGN.word, 8: _AK.INVENTION.word, 9: _AK.UTILITY_MODEL.word}
AGREEMENT_KINDS = {k.word: k for k in ag.AgreementKind.choices()}
LICENCE_TYPES = {t.word: t for t in ag.LicenceType.choices()}
ROYALTY_BASES = {"lump_sum", "percentage", "per_unit", "minimum_annual"}
STATUS_NAMES = {int(s): s.word for s in ag.AgreementStatus.choices()}
DEFAULT_SIGNING_WINDOW = 7 * 86400
ASSET_VERIFIER_KIND = PartyKind.ASSET_VERIFIER
ASSET_STATUS_NAMES = {int(v): v.word for v in ag.AssetStatus}
ASSET_STATUS_NOTES = ag.ASSET_STATUS_NOTES
# The input a verifier's refused decision is about.
DECISION_REVERT_FIELDS = {"AssetStatusInvalid": "asset_id", "AssetIsFrozen": "asset_id", "AssetVerifierInvalid": "signer",
                          "AssetVerifierIsOwner": "signer", "AgreementSignerNotActive": "signer",
                          "AgreementSignatureInvalid": "signature", "SignatureExpired": "deadline",
                          "SignatureDeadlineTooFar": "deadline"}  # fmt: skip
# The input a contract refusal at execution is about (the contract's errors name no field).
EXECUTE_REVERT_FIELDS = {"AssetNotConfirmed": "assetId", "SignatureExpired": "deadline", "AssetIsFrozen": "assetId", "AssetPledged": "assetId",
                         "SignatureDeadlineTooFar": "deadline", "AgreementWithdrawnByParty": "agreement_id",
                         "SublicenceLimitReached": "parentLicence",
                         "AgreementSignerNotActive": "signatures", "AgreementSignerNotAParty": "signatures",
                         "AgreementSignatureDuplicate": "signatures", "AgreementSignatureInvalid": "signatures",
                         "AgreementSignatureMissing": "signatures"}  # fmt: skip

def normalise_number(jurisdiction: str, kind: str, number: str) -> tuple[str, str]:
    """The normalised number (with its jurisdiction prefix, the form hashed on chain) and the asset kind."""
    if jurisdiction == "CN":
        try:
            parsed = parse_cn_patent_number(number)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="number") from None
        expected = CN_TYPE_KIND[parsed.type_digit]
        if kind != expected:
            raise InvalidInput(f"{parsed.normalised} is a {parsed.type_name} number; kind must be {expected}", field="kind")
        return "CN" + parsed.normalised, kind
    if jurisdiction == "HK":
        try:
            return "HK" + validate_hk_patent_number(number), kind
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="number") from None
    if jurisdiction == "PCT":
        text = number.strip().upper().replace(" ", "")
        import re

        if not re.fullmatch(r"PCT/[A-Z]{2}[0-9]{4}/[0-9]{6}", text):  # ASCII digits only
            raise InvalidInput("a PCT application number looks like PCT/CN2023/123456", field="number")
        return text, kind
    try:
        return "OTHER:" + validate_other_identifier(number), kind
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="number") from None


def _date(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def _bps(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10_000:
        raise InvalidInput("a share or percentage is given in basis points: 1..10000 (100% = 10000)", field=field)
    return value


def _amount(value: Any, field: str) -> str:
    """A plain non-negative decimal string (ledger.inputs.DECIMAL_PATTERN): no exponent, sign, inf or nan."""
    return parse_decimal(value, field)


def _text(value: Any, field: str, max_length: int) -> str | None:
    """Optional human text for the details (ledger.inputs.check_text), trimmed; None when absent or blank."""
    if value is None:
        return None
    return check_text(value, field, max_length=max_length).strip() or None


def _currency(value: Any, field: str) -> str:
    import pycountry

    code = str(value or "").strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise InvalidInput(f"{value!r} is not an ISO 4217 currency code", field=field)
    return code


def field_of_use_hash(text: str | None) -> bytes:
    """0 for every field; otherwise keccak-256 of the trimmed, lower-cased text."""
    if text is None or text.strip() == "" or text.strip().lower() == "all":
        return b"\0" * 32
    return bytes(keccak(text=" ".join(text.strip().lower().split())))


class AssetService:
    """Assets, claims and agreements. Receives the chain connection, the party service (owners, signers, verifiers,
    institutions' profiles) and the journal (asset details and agreement proposals)."""

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

    def _check_party(self, party_id: Any, field: str) -> int:
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
            raise InvalidInput(f"kind must be one of {', '.join(sorted(ALLOWED_KINDS[jurisdiction]))} for {jurisdiction}", field="kind")
        number, kind = normalise_number(jurisdiction, kind, str(body.get("number", "")))
        owners = body.get("owners") or []
        if not owners or len(owners) > 8:
            raise InvalidInput("an asset has 1 to 8 owners", field="owners")
        ids = [self._check_party(o.get("partyId"), f"owners[{i}].partyId") for i, o in enumerate(owners)]
        if len(set(ids)) != len(ids):
            raise InvalidInput("an owner is listed twice", field="owners")
        shares = [_bps(o.get("share"), f"owners[{i}].share") for i, o in enumerate(owners)]
        if sum(shares) != 10_000:
            raise InvalidInput(f"shares sum to {sum(shares)} basis points, not 10000 (100%)", field="owners")
        title = check_text(body.get("title") or "", "title", max_length=TITLE_MAX).strip()  # NFC, no control/bidi/zero-width
        if not title:
            raise InvalidInput(f"a title of 1 to {TITLE_MAX} characters is required", field="title")
        filing, grant = _date(body.get("filingDate"), "filingDate"), _date(body.get("grantDate"), "grantDate")
        if filing and grant and grant < filing:
            raise InvalidInput("the grant date is before the filing date", field="grantDate")
        evidence = [("0x" + parse_hash(h, f"evidence[{i}]").hex()) for i, h in enumerate(body.get("evidence") or [])]
        details = {"number": number, "title": title, "filingDate": filing, "grantDate": grant, "evidence": evidence}
        deadline = int(body.get("deadline") or 0) or self._chain_time() + DEFAULT_SIGNING_WINDOW
        _check_window(deadline, self._chain_time())
        reg = ag.AssetRegistration(
            int(JURISDICTIONS[jurisdiction]), int(KINDS[kind]), ag.number_hash(number), tuple(ids), tuple(shares),
            hashlib.sha256(canonical_json(details)).digest(), deadline,
        )  # fmt: skip
        taken = int(call(self.contract.functions.assetByNumber(reg.number_hash)))
        if taken and int(call(self.contract.functions.assetStatus(taken))) != ag.AssetStatus.STRUCK:  # a struck claim frees it
            raise Conflict(f"{number} is already registered (asset {taken}); if that claim is false, an asset verifier can "
                           "reject it, or an arbitral award give it to its rightful owner", field="number")  # fmt: skip
        return reg, details

    def register(self, body: dict[str, Any], signatures: list[dict[str, str]]) -> AssetView:
        reg, details = self.registration(body)
        sigs = self._parse_signatures(signatures, reg.message(self.domain()), set(reg.owners))
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
        _check_window(deadline, self._chain_time())
        build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
        return build(self.domain(), asset_id, digest, deadline)

    def decide(self, asset_id: int, decision: str, hash_value: str, deadline: int, signer: str, signature: str) -> dict[str, Any]:
        """Relays an asset verifier's signed confirmation or rejection of a claim, after checking it here: the
        claim is open (neither confirmed nor struck) and not frozen, the signer is an account of an active
        verifier party that owns no share of the asset, and the signature verifies."""
        hash_field = "registerExtractHash" if decision == "confirm" else "reasonHash"
        asset = self._open_claim(asset_id)
        digest = parse_hash(hash_value, hash_field)
        now = self._chain_time()
        if deadline < now:
            raise InvalidInput("the signing deadline has passed", field="deadline")
        _check_window(deadline, now)
        account = parse_account(signer, "signer")

        def verifier(party_id: int) -> None:
            if party_id == 0 or self.parties.profile(party_id)["kind"] != ASSET_VERIFIER_KIND:
                raise NotAnAssetVerifier("AssetVerifierInvalid", {"account": account, "partyId": party_id},
                                         f"{account} is not an account of an asset verifier party (admitted by governance)",
                                         field="signer")  # fmt: skip

        party_id = self.parties.active_party(account, field="signer", refuse=as_verifier, among=verifier)
        if party_id in {o["partyId"] for o in asset["owners"]}:
            raise AssetClaimConflict("AssetVerifierIsOwner", {"assetId": asset_id, "partyId": party_id},
                                     f"party {party_id} owns a share of asset {asset_id}: a verifier cannot decide its own claim",
                                     field="signer")  # fmt: skip
        sig = _parse_sig(signature)
        build = ag.confirmation_message if decision == "confirm" else ag.rejection_message
        if not self.conn.w3.eth.get_code(account) and eip712.recover(build(self.domain(), asset_id, digest, deadline), sig) != account:
            raise SignatureRejected("AgreementSignatureInvalid", {"signer": account},
                                    f"the signature does not verify for this {decision} of asset {asset_id} by {account}",
                                    field="signature")  # fmt: skip
        fn = self.contract.functions.confirmAsset if decision == "confirm" else self.contract.functions.rejectClaim
        try:
            sent = self._send(fn(asset_id, digest, account, deadline, sig))
        except ContractRevert as exc:
            exc.field = exc.field or DECISION_REVERT_FIELDS.get(exc.name)
            raise
        return {**self.show(asset_id), "verifierPartyId": party_id, hash_field: "0x" + digest.hex(), "transactionHash": sent.tx_hash}

    def _open_claim(self, asset_id: int) -> AssetView:
        asset = self.show(asset_id)
        if asset["status"] != "claimed":
            raise AssetClaimConflict("AssetStatusInvalid", {"assetId": asset_id, "status": asset["status"]},
                                     f"asset {asset_id} is {asset['status']}, not an open claim: a confirmed title changes only "
                                     "by an arbitral award", field="asset_id")  # fmt: skip
        if asset["frozen"]:
            raise AssetClaimConflict("AssetIsFrozen", {"assetId": asset_id},
                                     f"asset {asset_id} is frozen by an open dispute: the award decides it", field="asset_id")  # fmt: skip
        return asset

    # --- agreements ---

    def propose(self, body: dict[str, Any]) -> AgreementView:
        terms, details = self._terms(body)
        aid = terms.agreement_id(self.domain())
        if not self.journal.add_proposal("0x" + aid.hex(), body["kind"], terms.asset_id, terms.to_json(), details):
            raise Conflict("an agreement with these exact terms was already proposed", field="salt")
        return self.agreement("0x" + aid.hex())

    def _terms(self, body: dict[str, Any]) -> tuple[ag.Terms, dict[str, Any]]:
        kind_name = str(body.get("kind", ""))
        if kind_name not in AGREEMENT_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(AGREEMENT_KINDS)}", field="kind")
        kind = AGREEMENT_KINDS[kind_name]
        asset_id = body.get("assetId")
        if not isinstance(asset_id, int) or asset_id < 1:
            raise InvalidInput("assetId must be an asset id", field="assetId")
        try:
            asset = self.show(asset_id)
        except NotFound as exc:
            raise NotFound(exc.message, field="assetId") from None
        if asset["status"] != "confirmed":
            raise AssetNotConfirmed("AssetNotConfirmed", {"assetId": asset_id},
                                    f"asset {asset_id} is a {ASSET_STATUS_NOTES[asset['status']]}; an asset verifier confirms "
                                    "it first (ipledger asset confirm)", field="assetId")  # fmt: skip
        if asset["frozen"]:
            raise Conflict(f"asset {asset_id} is frozen by an open dispute", field="assetId")
        document_hash = parse_hash(str(body.get("documentHash", "")), "documentHash")
        now = self.conn.latest_time()
        deadline = int(body.get("deadline") or now + DEFAULT_SIGNING_WINDOW)
        if deadline <= now:
            raise InvalidInput("the signing deadline has passed", field="deadline")
        _check_window(deadline, now)
        salt = parse_hash(body["salt"], "salt") if body.get("salt") else secrets.token_bytes(32)
        owners = [o["partyId"] for o in asset["owners"]]
        details: dict[str, Any] = {"contractDate": _date(body.get("contractDate"), "contractDate")}
        if kind in (ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION):
            key = "assignees" if kind == ag.AgreementKind.ASSIGNMENT else "company"
            if kind == ag.AgreementKind.ASSIGNMENT:
                entries = body.get("assignees") or []
                if not entries:
                    raise InvalidInput("an assignment needs at least one assignee", field="assignees")
                grantees = [self._check_party(e.get("partyId"), f"assignees[{i}].partyId") for i, e in enumerate(entries)]
                if len(set(grantees)) != len(grantees):
                    raise InvalidInput("an assignee is listed twice", field="assignees")
                shares = [_bps(e.get("share"), f"assignees[{i}].share") for i, e in enumerate(entries)]
                if sum(shares) != 10_000:
                    raise InvalidInput(f"assignee shares sum to {sum(shares)}, not 10000 (100%)", field="assignees")
            else:
                company = self._check_party(body.get("company"), "company")
                profile = self.parties.profile(company)
                if profile["identifierScheme"] != IdentifierScheme.USCC.name:
                    raise InvalidInput("the company of an equity contribution is identified by a USCC", field="company")
                grantees, shares = [company], [10_000]
                e = body.get("equity") or {}
                details |= {
                    "appraiser": _text(e.get("appraiser"), "equity.appraiser", SHORT_TEXT_MAX) or _missing("equity.appraiser"),
                    "appraisalReportHash": "0x" + parse_hash(str(e.get("appraisalReportHash", "")), "equity.appraisalReportHash").hex(),
                    "appraisedValue": _amount(e.get("appraisedValue"), "equity.appraisedValue"),
                    "agreedValue": _amount(e.get("agreedValue"), "equity.agreedValue"),
                    "capitalAmount": _amount(e.get("capitalAmount"), "equity.capitalAmount"),
                    "currency": _currency(e.get("currency", "CNY"), "equity.currency"),
                    "equityShare": _bps(e.get("equityShare"), "equity.equityShare"),
                }
            overlap = set(grantees) & set(owners)
            if overlap:
                raise InvalidInput(f"party {overlap.pop()} already owns the asset", field=key)
            terms = ag.Terms(int(kind), asset_id, tuple(grantees), tuple(shares), document_hash=document_hash,
                             salt=salt, deadline=deadline)  # fmt: skip
        else:
            start, end = int(body.get("start") or now), body.get("end")
            if not isinstance(end, int) or end <= start:
                raise InvalidInput("end must be a unix time after start", field="end")
            if end <= now:
                raise InvalidInput("the term has already ended", field="end")
            if kind == ag.AgreementKind.LICENCE:
                grantee = self._check_party(body.get("licensee"), "licensee")
                ltype = LICENCE_TYPES.get(str(body.get("licenceType", "")))
                if ltype is None:
                    raise InvalidInput("licenceType must be exclusive, sole or ordinary", field="licenceType")
                territory = to_mask(body.get("territory") or [], "territory")
                field_text = _text(body.get("fieldOfUse"), "fieldOfUse", FIELD_OF_USE_MAX)
                royalty = body.get("royalty") or {}
                basis = royalty.get("basis")
                if basis not in ROYALTY_BASES:
                    raise InvalidInput(f"royalty.basis must be one of {', '.join(sorted(ROYALTY_BASES))}", field="royalty.basis")
                r: dict[str, Any] = {"basis": basis, "currency": _currency(royalty.get("currency", "CNY"), "royalty.currency")}
                if basis == "percentage":
                    r["rate"] = _bps(royalty.get("rate"), "royalty.rate")
                else:
                    r["amount"] = _amount(royalty.get("amount"), "royalty.amount")
                if royalty.get("minimumAnnual") is not None:
                    r["minimumAnnual"] = _amount(royalty.get("minimumAnnual"), "royalty.minimumAnnual")
                details |= {"royalty": r, "fieldOfUse": field_text or "all",
                            "recordationNumber": _text(body.get("recordationNumber"), "recordationNumber", SHORT_TEXT_MAX),
                            "recordationDate": _date(body.get("recordationDate"), "recordationDate")}  # fmt: skip
                parent = parse_hash(body["parentLicence"], "parentLicence") if body.get("parentLicence") else b"\0" * 32
                terms = ag.Terms(int(kind), asset_id, (grantee,), (), int(ltype), territory, field_of_use_hash(field_text),
                                 bool(body.get("sublicensable", False)), parent, start, end, document_hash, b"", salt, deadline)  # fmt: skip
                grantors = self._licence_grantors(terms, owners)
                if grantee in grantors:
                    raise InvalidInput("the licensee already holds the right it would be licensed", field="licensee")
            else:
                grantee = self._check_party(body.get("pledgee"), "pledgee")
                if self.parties.profile(grantee)["kind"] != PartyKind.FINANCIAL_INSTITUTION:
                    raise InvalidInput("the pledgee must be a financial institution party", field="pledgee")
                existing = call(self.contract.functions.pledgeOf(asset_id))
                if existing != b"\0" * 32:
                    raise Conflict(f"asset {asset_id} is already pledged under 0x{bytes(existing).hex()}", field="assetId")
                details |= {"amount": _amount(body.get("amount"), "amount"), "currency": _currency(body.get("currency", "CNY"), "currency"),
                            "registrationNumber": _text(body.get("registrationNumber"), "registrationNumber", SHORT_TEXT_MAX)}  # fmt: skip
                terms = ag.Terms(int(kind), asset_id, (grantee,), start=start, end=end, document_hash=document_hash, salt=salt, deadline=deadline)
        details = {k: v for k, v in details.items() if v is not None}
        from dataclasses import replace

        terms = replace(terms, details_hash=hashlib.sha256(canonical_json(details)).digest())
        return terms, details

    def _licence_grantors(self, terms: ag.Terms, owners: list[int]) -> list[int]:
        if terms.parent_licence == b"\0" * 32:
            return owners
        parent = call(self.contract.functions.agreement(terms.parent_licence))
        if parent[1] != ag.AgreementStatus.EFFECTIVE or parent[0] != ag.AgreementKind.LICENCE or parent[8] != terms.asset_id:
            raise InvalidInput("the parent licence is not an effective licence of this asset", field="parentLicence")
        if not parent[3]:
            raise InvalidInput("the parent licence does not allow sublicensing", field="parentLicence")
        if parent[11] != b"\0" * 32:
            raise InvalidInput("a sublicence is granted under a licence from the owners, not under another sublicence", field="parentLicence")
        if parent[5] <= self._chain_time():
            raise InvalidInput("the parent licence has ended", field="parentLicence")
        if terms.licence_type < parent[2]:  # Exclusive 1 < Sole 2 < Ordinary 3: same or narrower
            raise InvalidInput(f"a sublicence under a {ag.LicenceType(parent[2]).word} licence is "
                               f"{' or '.join(t.word for t in ag.LicenceType.choices() if t >= parent[2])}",
                               field="licenceType")  # fmt: skip
        if terms.territory & ~int(parent[9]):
            raise InvalidInput("a sublicence must stay inside the parent licence's territory", field="territory")
        if terms.start < parent[4] or terms.end > parent[5]:
            raise InvalidInput("a sublicence must stay inside the parent licence's term", field="end")
        if parent[10] != b"\0" * 32 and terms.field_of_use != parent[10]:
            raise InvalidInput("a sublicence must stay inside the parent licence's field of use", field="fieldOfUse")
        return [int(p) for p in parent[13]]

    def _proposal(self, agreement_id: str) -> tuple[ag.Terms, dict[str, Any], dict[str, Any], str, str | None]:
        try:
            aid = "0x" + parse_hash(agreement_id, "agreement_id").hex()
        except InvalidInput:
            raise InvalidInput(f"{agreement_id!r} is not an agreement id (32 bytes hex)", field="agreement_id") from None
        row = self.journal.proposal(aid)
        if row is None:
            raise NotFound(f"no agreement {aid}", field="agreement_id")
        return ag.Terms.from_json(row.terms), row.details, row.signatures, row.status, row.tx_hash

    def required_parties(self, terms: ag.Terms) -> list[int]:
        owners = [o["partyId"] for o in self.show(terms.asset_id)["owners"]]
        grantors = self._licence_grantors(terms, owners) if terms.kind == ag.AgreementKind.LICENCE else owners
        required = list(dict.fromkeys([*grantors, *terms.grantees]))
        pledge = call(self.contract.functions.pledgeOf(terms.asset_id))
        needs = terms.kind in (ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION) or (
            terms.kind == ag.AgreementKind.LICENCE and terms.licence_type != ag.LicenceType.ORDINARY)
        if pledge != b"\0" * 32 and needs:
            pledgee = int(call(self.contract.functions.agreement(pledge))[13][0])
            if pledgee not in required:
                required.append(pledgee)
        return required

    def agreement(self, agreement_id: str) -> AgreementView:
        terms, details, sigs, status, tx_hash = self._proposal(agreement_id)
        aid = terms.agreement_id(self.domain())
        onchain = call(self.contract.functions.agreement(aid))
        body: AgreementView = {
            "agreementId": "0x" + aid.hex(),
            "kind": ag.AgreementKind(terms.kind).word,
            "assetId": terms.asset_id,
            "terms": terms.to_json(),
            "details": details,
            "typedData": terms.message(self.domain()),
            "signatures": sigs,
            "transactionHash": tx_hash,
        }
        if terms.kind == ag.AgreementKind.LICENCE:
            body["territory"] = from_mask(terms.territory)
            body["licenceType"] = ag.LicenceType(terms.licence_type).word
        if onchain[1] != ag.AgreementStatus.NONE:
            body["status"] = STATUS_NAMES[onchain[1]]
            if onchain[1] == ag.AgreementStatus.ENDED_WITH_PARENT:
                body["endedWithParent"] = "0x" + bytes(onchain[11]).hex()
            if onchain[1] == ag.AgreementStatus.EFFECTIVE and onchain[5] and onchain[5] <= self._chain_time():
                body["status"] = "expired"
            body["effectiveAt"] = int(onchain[6])
            body["closedAt"] = int(onchain[7]) or None
        else:
            body["status"] = status
            required = self.required_parties(terms)
            body["requiredParties"] = required
            body["missingParties"] = [p for p in required if str(p) not in sigs]
        return body

    def add_signature(self, agreement_id: str, signer: str, signature: str) -> AgreementView:
        terms, _, sigs, status, _ = self._proposal(agreement_id)
        if status != "proposed":
            raise Conflict(f"the agreement is {status}", field="agreement_id")
        account = parse_account(signer, "signer")
        sig = _parse_sig(signature)
        party_id = self.parties.active_party(account, field="signer", refuse=as_signer)
        required = self.required_parties(terms)
        if party_id not in required:
            raise InvalidInput(f"party {party_id} is not a party to this agreement (parties: {required})", field="signer")
        if str(party_id) in sigs:
            raise Conflict(f"party {party_id} has already signed", field="signer")
        message = terms.message(self.domain())
        if self.conn.w3.eth.get_code(account):  # a contract wallet (a Safe): asked through ERC-1271, as the contract will
            from ledger.chain.governance import erc1271_accepts

            valid = erc1271_accepts(self.conn.w3, account, eip712.digest(message), sig)
        else:
            valid = eip712.recover(message, sig) == account
        if not valid:
            raise SignatureRejected("AgreementSignatureInvalid", {"signer": account},
                                    "the signature does not verify for these terms and this account", field="signature")  # fmt: skip
        key = "0x" + terms.agreement_id(self.domain()).hex()
        # read and written in one journal transaction: two parties signing at once both keep their signature
        if not self.journal.add_proposal_signature(key, int(party_id), account, "0x" + sig.hex()):
            raise Conflict(f"party {party_id} has already signed", field="signer")
        return self.agreement(agreement_id)

    def execute(self, agreement_id: str) -> AgreementView:
        terms, _, sigs, status, _ = self._proposal(agreement_id)
        if status != "proposed":
            raise Conflict(f"the agreement is {status}", field="agreement_id")
        required = self.required_parties(terms)
        missing = [p for p in required if str(p) not in sigs]
        if missing:
            raise InvalidInput(f"signatures missing from parties {missing}", field="signatures", details={"missingParties": missing})
        # only the parties needed now: a pledgee's consent collected before its pledge was released is not sent
        tuples = [(sigs[str(p)]["signer"], bytes.fromhex(sigs[str(p)]["signature"][2:])) for p in required]
        try:
            sent = self._send(self.contract.functions.execute(terms.as_tuple(), tuples))
        except ContractRevert as exc:
            exc.field = exc.field or EXECUTE_REVERT_FIELDS.get(exc.name)
            raise
        self.journal.close_proposal("0x" + terms.agreement_id(self.domain()).hex(), "executed", sent.tx_hash)
        return self.agreement(agreement_id)

    def termination_payload(self, agreement_id: str, deadline: int) -> dict[str, Any]:
        terms, *_ = self._proposal(agreement_id)
        return ag.termination_message(self.domain(), terms.agreement_id(self.domain()), deadline)

    def terminate(self, agreement_id: str, deadline: int, signatures: list[dict[str, str]]) -> AgreementView:
        terms, *_ = self._proposal(agreement_id)
        _check_window(deadline, self._chain_time())
        aid = terms.agreement_id(self.domain())
        g = call(self.contract.functions.agreement(aid))
        if g[1] != ag.AgreementStatus.EFFECTIVE:
            raise Conflict("only an effective agreement is terminated", field="agreement_id")
        parties = {int(p) for p in [*g[12], *g[13]]}
        sigs = self._parse_signatures(signatures, ag.termination_message(self.domain(), aid, deadline), parties)
        self._send(self.contract.functions.terminate(aid, deadline, sigs))
        return self.agreement(agreement_id)

    def release(self, agreement_id: str, deadline: int, signer: str, signature: str) -> AgreementView:
        terms, *_ = self._proposal(agreement_id)
        aid = terms.agreement_id(self.domain())
        _check_window(deadline, self._chain_time())
        if self.show(terms.asset_id)["frozen"]:
            raise Conflict(f"asset {terms.asset_id} is frozen by an open dispute: the pledge is released after the award",
                           field="agreement_id")  # fmt: skip
        self._send(self.contract.functions.releasePledge(aid, deadline, (parse_account(signer, "signer"), _parse_sig(signature))))
        return self.agreement(agreement_id)

    def withdrawal_payload(self, agreement_id: str, deadline: int) -> dict[str, Any]:
        terms, *_ = self._proposal(agreement_id)
        return ag.withdrawal_message(self.domain(), terms.agreement_id(self.domain()), deadline)

    def withdraw(self, agreement_id: str, deadline: int, signer: str, signature: str) -> AgreementView:
        """A party withdraws its consent before execution, on chain: the terms can then never take effect, so no
        signature already given (and visible in the proposal) can be used. The relayer only carries the
        party's signed ``Withdrawal``; a suspended party may withdraw."""
        terms, _, _, status, _ = self._proposal(agreement_id)
        aid = terms.agreement_id(self.domain())
        if status != "proposed" or call(self.contract.functions.agreement(aid))[1] != ag.AgreementStatus.NONE:
            raise Conflict(f"the agreement is {status}: only a proposal is withdrawn", field="agreement_id")
        _check_window(deadline, self._chain_time())
        account = parse_account(signer, "signer")
        sig = _parse_sig(signature)
        party_id, _active = self.parties.party_of(account)
        parties = set(self.required_parties(terms)) | set(terms.grantees)
        if party_id not in parties:
            raise InvalidInput(f"{account} is not an account of a party to this agreement (parties: {sorted(parties)})", field="signer")
        if not self.conn.w3.eth.get_code(account) and eip712.recover(ag.withdrawal_message(self.domain(), aid, deadline), sig) != account:
            raise SignatureRejected("AgreementSignatureInvalid", {"signer": account},
                                    "the signature does not verify for this withdrawal and this account", field="signature")  # fmt: skip
        try:
            sent = self._send(self.contract.functions.withdraw(terms.as_tuple(), deadline, (account, sig)))
        except ContractRevert as exc:
            exc.field = exc.field or {"AgreementWithdrawnByParty": "agreement_id", "AgreementAlreadyExecuted": "agreement_id",
                                      "SignatureExpired": "deadline", "SignatureDeadlineTooFar": "deadline"}.get(exc.name)  # fmt: skip
            raise
        self.journal.close_proposal("0x" + aid.hex(), "withdrawn", sent.tx_hash)
        return {**self.agreement(agreement_id), "withdrawnBy": int(party_id), "transactionHash": sent.tx_hash}

    def _parse_signatures(self, signatures: list[dict[str, str]], message: dict[str, Any], parties: set[int]) -> list[tuple[ChecksumAddress, bytes]]:
        """Checks each signature early: a known account of one of ``parties``, once each, verifying for ``message``."""
        out = []
        seen: set[int] = set()
        for i, s in enumerate(signatures):
            account = parse_account(str(s.get("signer", "")), f"signatures[{i}].signer")
            sig = _parse_sig(str(s.get("signature", "")), f"signatures[{i}].signature")

            def of_parties(party_id: int, i: int = i, account: str = account) -> None:
                if party_id not in parties:
                    raise InvalidInput(f"signatures[{i}] is by {account}, not an account of the parties {sorted(parties)}",
                                       field=f"signatures[{i}].signer")  # fmt: skip

            party_id = self.parties.active_party(account, field=f"signatures[{i}].signer", refuse=as_cosigner, among=of_parties)
            if party_id in seen:
                raise Conflict(f"party {party_id} signed twice", field=f"signatures[{i}].signer")
            seen.add(party_id)
            if not self.conn.w3.eth.get_code(account) and eip712.recover(message, sig) != account:
                raise SignatureRejected("SignatureInvalid", {"signer": account}, f"signatures[{i}] does not verify for {account}",
                                        field=f"signatures[{i}].signature")  # fmt: skip
            out.append((account, sig))
        return out

    def certificate(self, agreement_id: str) -> CertificateDocument:
        """The agreement certificate (ledger/certificates/agreement.py) of an agreement in effect."""
        from ledger.certificates import agreement as agreement_certificate

        terms, details, sigs, status, tx_hash = self._proposal(agreement_id)
        if status != "executed" or not tx_hash:
            raise Conflict(f"the agreement is {status}: a certificate exists once it is in effect", field="agreement_id",
                           details={"status": status})  # fmt: skip
        receipt = self.conn.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        block = self.conn.w3.eth.get_block(receipt["blockNumber"])
        profiles = {int(pid): self.parties.profile(int(pid)) for pid in sigs}
        return agreement_certificate.build(
            agreement_id="0x" + terms.agreement_id(self.domain()).hex(),
            terms=terms.to_json(),
            details=details,
            signatures=sigs,
            parties=profiles,
            chain_id=self.conn.manifest.chain_id,
            contract=self.conn.manifest.address("IPAssetRegistry"),
            tx_hash=Web3.to_hex(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=Web3.to_hex(block["hash"]),
            block_timestamp=int(block["timestamp"]),
        )

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
                decided_by = {"verifierPartyId": e["verifierPartyId"], "time": e["time"], "transactionHash": e["transactionHash"],
                              **{k: e[k] for k in ("registerExtractHash", "reasonHash") if k in e}}  # fmt: skip
            elif e["event"] in ("AssetRegistered", "TitleTransferred", "TitleRestored"):
                owners, owners_since, title_agreement = e["owners"], e["time"], e.get("agreementId") or e.get("disputeId")
            elif e["event"] == "AgreementExecuted" and e["kind"] in {k.word for k in ag.AgreementKind.choices() if k.termed}:
                effective[e["agreementId"]] = e
            elif e["event"] in ("AgreementTerminated", "PledgeReleased", "AgreementVoided"):
                effective.pop(e["agreementId"], None)
        licences, pledges, ended = [], [], []
        for aid, e in effective.items():
            g = call(self.contract.functions.agreement(bytes.fromhex(aid[2:])))
            parent = "0x" + bytes(g[11]).hex()
            if e["kind"] == ag.AgreementKind.LICENCE.word and g[11] != b"\0" * 32 and parent not in effective and int(g[7]) <= at:
                # the parent licence was terminated or voided by `at`: its sublicences ended with it
                ended.append({"agreementId": aid, "licensee": int(g[13][0]), "endedAt": int(g[7]), "parentLicence": parent,
                              "reason": f"ended with parent licence {parent}"})  # fmt: skip
                continue
            if not (int(g[4]) <= at < int(g[5])):
                continue
            entry = {"agreementId": aid, "party": int(g[13][0]), "start": int(g[4]), "end": int(g[5]), "effectiveAt": int(g[6])}
            if e["kind"] == ag.AgreementKind.LICENCE.word:
                entry |= {"licensee": entry.pop("party"), "licenceType": ag.LicenceType(g[2]).word, "territory": from_mask(int(g[9])),
                          "sublicence": g[11] != b"\0" * 32, "licensors": [int(p) for p in g[12]]}  # fmt: skip
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

        for name in ("AssetRegistered", "AssetConfirmed", "ClaimRejected", "ClaimStruck", "TitleTransferred", "AgreementExecuted",
                     "AgreementTerminated", "PledgeReleased", "AssetFrozen", "AssetUnfrozen", "AgreementVoided", "TitleRestored",
                     "AgreementWithdrawn"):  # fmt: skip
            for log in getattr(c.events, name)().get_logs(from_block=start, argument_filters={"assetId": asset_id}):
                args = log["args"]
                e: dict[str, Any] = {"event": name, "block": int(log["blockNumber"]), "logIndex": int(log["logIndex"]),
                                     "time": block_time(int(log["blockNumber"])), "transactionHash": Web3.to_hex(log["transactionHash"])}  # fmt: skip
                if "agreementId" in args:
                    e["agreementId"] = "0x" + bytes(args["agreementId"]).hex()
                if "owners" in args:
                    e["owners"] = [{"partyId": int(p), "share": int(s)} for p, s in zip(args["owners"], args["shares"], strict=True)]
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


def _check_window(deadline: int, now: int) -> None:
    if deadline > now + ag.MAX_SIGNING_WINDOW:
        raise InvalidInput(f"a signing deadline lies at most {ag.MAX_SIGNING_WINDOW // 86400} days ahead "
                           f"(latest now: {now + ag.MAX_SIGNING_WINDOW})", field="deadline")  # fmt: skip


def _missing(field: str) -> str:
    raise InvalidInput(f"{field} is required", field=field)


def _parse_sig(value: str, field: str = "signature") -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("the signature is not hex", field=field) from None
    if not 0 < len(raw) <= 4096:
        raise InvalidInput("the signature is empty or too long", field=field)
    return raw



