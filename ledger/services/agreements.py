"""Agreements on IP assets: proposals journalled off chain, signatures, execution, termination, release of a
pledge, withdrawal, and the agreement certificate. The contract enforces every rule again; the checks here exist
to give clear errors early.

An agreement is *proposed* (terms and details stored in the journal, its id = the EIP-712 struct hash of
the terms), *signed* by each party with its own key (signatures are collected here, checked as they
arrive), and *executed* in one transaction carrying every signature. Details that do not go on chain
(royalty, values, amounts, recordation) are committed by the SHA-256 of their canonical JSON. Only a confirmed,
unfrozen asset (ledger.services.assets) is put under an agreement.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from web3 import Web3

from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.sender import SentTransaction
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import IdentifierScheme, PartyKind
from ledger.domain.hashing import parse_hash
from ledger.domain.inputs import FIELD_OF_USE_MAX, SHORT_TEXT_MAX, check_text, parse_decimal
from ledger.domain.parties import as_signer, parse_account
from ledger.domain.results import AgreementView, CertificateDocument
from ledger.domain.territory import from_mask, to_mask
from ledger.errors import AssetNotConfirmed, Conflict, ContractRevert, InvalidInput, NotFound, SignatureRejected
from ledger.services.assets import AssetService
from ledger.services.parties import PartyService
from ledger.storage.journal import Store

AGREEMENT_KINDS = {k.word: k for k in ag.AgreementKind.choices()}
LICENCE_TYPES = {t.word: t for t in ag.LicenceType.choices()}
ROYALTY_BASES = {"lump_sum", "percentage", "per_unit", "minimum_annual"}
STATUS_NAMES = {int(s): s.word for s in ag.AgreementStatus.choices()}
# The input a contract refusal at execution is about (the contract's errors name no field).
EXECUTE_REVERT_FIELDS = {
    "AssetNotConfirmed": "assetId",
    "SignatureExpired": "deadline",
    "AssetIsFrozen": "assetId",
    "AssetPledged": "assetId",
    "SignatureDeadlineTooFar": "deadline",
    "AgreementWithdrawnByParty": "agreement_id",
    "SublicenceLimitReached": "parentLicence",
    "AgreementSignerNotActive": "signatures",
    "AgreementSignerNotAParty": "signatures",
    "AgreementSignatureDuplicate": "signatures",
    "AgreementSignatureInvalid": "signatures",
    "AgreementSignatureMissing": "signatures",
}


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


def _missing(field: str) -> str:
    raise InvalidInput(f"{field} is required", field=field)


class AgreementService:
    """Agreements on the assets of the AssetService. Receives the chain connection, the asset service (an asset's
    owners and status, the EIP-712 domain, the check of parties and of their signatures), the party service
    (signers, pledgees, companies, profiles for certificates) and the journal (agreement proposals)."""

    def __init__(self, conn: Connection, assets: AssetService, parties: PartyService, journal: Store) -> None:
        self.conn = conn
        self.assets = assets
        self.parties = parties
        self.journal = journal

    @property
    def contract(self) -> Any:
        return self.conn.assets

    def domain(self) -> eip712.Domain:
        """The registry's EIP-712 domain: agreements are signed in the same domain as asset registrations."""
        return self.assets.domain()

    def _send(self, fn: Any) -> SentTransaction:
        sent = self.conn.require_relayer().send_call(fn)
        assert isinstance(sent, SentTransaction)
        return sent

    def _chain_time(self) -> int:
        return self.conn.latest_time()

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
            asset = self.assets.show(asset_id)
        except NotFound as exc:
            raise NotFound(exc.message, field="assetId") from None
        if asset["status"] != "confirmed":
            raise AssetNotConfirmed(
                "AssetNotConfirmed",
                {"assetId": asset_id},
                f"asset {asset_id} is a {ag.ASSET_STATUS_NOTES[asset['status']]}; an asset verifier confirms "
                "it first (ipledger asset confirm)",
                field="assetId",
            )
        if asset["frozen"]:
            raise Conflict(f"asset {asset_id} is frozen by an open dispute", field="assetId")
        document_hash = parse_hash(str(body.get("documentHash", "")), "documentHash")
        now = self.conn.latest_time()
        deadline = int(body.get("deadline") or now + ag.DEFAULT_SIGNING_WINDOW)
        if deadline <= now:
            raise InvalidInput("the signing deadline has passed", field="deadline")
        ag.check_signing_window(deadline, now)
        salt = parse_hash(body["salt"], "salt") if body.get("salt") else secrets.token_bytes(32)
        owners = [o["partyId"] for o in asset["owners"]]
        details: dict[str, Any] = {"contractDate": ag.parse_date(body.get("contractDate"), "contractDate")}
        if kind in (ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION):
            key = "assignees" if kind == ag.AgreementKind.ASSIGNMENT else "company"
            if kind == ag.AgreementKind.ASSIGNMENT:
                entries = body.get("assignees") or []
                if not entries:
                    raise InvalidInput("an assignment needs at least one assignee", field="assignees")
                grantees = [
                    self.assets.check_party(e.get("partyId"), f"assignees[{i}].partyId") for i, e in enumerate(entries)
                ]
                if len(set(grantees)) != len(grantees):
                    raise InvalidInput("an assignee is listed twice", field="assignees")
                shares = [ag.parse_bps(e.get("share"), f"assignees[{i}].share") for i, e in enumerate(entries)]
                if sum(shares) != 10_000:
                    raise InvalidInput(f"assignee shares sum to {sum(shares)}, not 10000 (100%)", field="assignees")
            else:
                company = self.assets.check_party(body.get("company"), "company")
                profile = self.parties.profile(company)
                if profile["identifierScheme"] != IdentifierScheme.USCC.name:
                    raise InvalidInput("the company of an equity contribution is identified by a USCC", field="company")
                grantees, shares = [company], [10_000]
                e = body.get("equity") or {}
                details |= {
                    "appraiser": _text(e.get("appraiser"), "equity.appraiser", SHORT_TEXT_MAX)
                    or _missing("equity.appraiser"),
                    "appraisalReportHash": "0x"
                    + parse_hash(str(e.get("appraisalReportHash", "")), "equity.appraisalReportHash").hex(),
                    "appraisedValue": _amount(e.get("appraisedValue"), "equity.appraisedValue"),
                    "agreedValue": _amount(e.get("agreedValue"), "equity.agreedValue"),
                    "capitalAmount": _amount(e.get("capitalAmount"), "equity.capitalAmount"),
                    "currency": _currency(e.get("currency", "CNY"), "equity.currency"),
                    "equityShare": ag.parse_bps(e.get("equityShare"), "equity.equityShare"),
                }
            overlap = set(grantees) & set(owners)
            if overlap:
                raise InvalidInput(f"party {overlap.pop()} already owns the asset", field=key)
            terms = ag.Terms(
                int(kind),
                asset_id,
                tuple(grantees),
                tuple(shares),
                document_hash=document_hash,
                salt=salt,
                deadline=deadline,
            )
        else:
            start, end = int(body.get("start") or now), body.get("end")
            if not isinstance(end, int) or end <= start:
                raise InvalidInput("end must be a unix time after start", field="end")
            if end <= now:
                raise InvalidInput("the term has already ended", field="end")
            if kind == ag.AgreementKind.LICENCE:
                grantee = self.assets.check_party(body.get("licensee"), "licensee")
                ltype = LICENCE_TYPES.get(str(body.get("licenceType", "")))
                if ltype is None:
                    raise InvalidInput("licenceType must be exclusive, sole or ordinary", field="licenceType")
                territory = to_mask(body.get("territory") or [], "territory")
                field_text = _text(body.get("fieldOfUse"), "fieldOfUse", FIELD_OF_USE_MAX)
                royalty = body.get("royalty") or {}
                basis = royalty.get("basis")
                if basis not in ROYALTY_BASES:
                    raise InvalidInput(
                        f"royalty.basis must be one of {', '.join(sorted(ROYALTY_BASES))}", field="royalty.basis"
                    )
                r: dict[str, Any] = {
                    "basis": basis,
                    "currency": _currency(royalty.get("currency", "CNY"), "royalty.currency"),
                }
                if basis == "percentage":
                    r["rate"] = ag.parse_bps(royalty.get("rate"), "royalty.rate")
                else:
                    r["amount"] = _amount(royalty.get("amount"), "royalty.amount")
                if royalty.get("minimumAnnual") is not None:
                    r["minimumAnnual"] = _amount(royalty.get("minimumAnnual"), "royalty.minimumAnnual")
                details |= {
                    "royalty": r,
                    "fieldOfUse": field_text or "all",
                    "recordationNumber": _text(body.get("recordationNumber"), "recordationNumber", SHORT_TEXT_MAX),
                    "recordationDate": ag.parse_date(body.get("recordationDate"), "recordationDate"),
                }
                parent = parse_hash(body["parentLicence"], "parentLicence") if body.get("parentLicence") else b"\0" * 32
                terms = ag.Terms(
                    int(kind),
                    asset_id,
                    (grantee,),
                    (),
                    int(ltype),
                    territory,
                    ag.field_of_use_hash(field_text),
                    bool(body.get("sublicensable", False)),
                    parent,
                    start,
                    end,
                    document_hash,
                    b"",
                    salt,
                    deadline,
                )
                grantors = self._licence_grantors(terms, owners)
                if grantee in grantors:
                    raise InvalidInput("the licensee already holds the right it would be licensed", field="licensee")
            else:
                grantee = self.assets.check_party(body.get("pledgee"), "pledgee")
                if self.parties.profile(grantee)["kind"] != PartyKind.FINANCIAL_INSTITUTION:
                    raise InvalidInput("the pledgee must be a financial institution party", field="pledgee")
                existing = call(self.contract.functions.pledgeOf(asset_id))
                if existing != b"\0" * 32:
                    raise Conflict(
                        f"asset {asset_id} is already pledged under 0x{bytes(existing).hex()}", field="assetId"
                    )
                details |= {
                    "amount": _amount(body.get("amount"), "amount"),
                    "currency": _currency(body.get("currency", "CNY"), "currency"),
                    "registrationNumber": _text(body.get("registrationNumber"), "registrationNumber", SHORT_TEXT_MAX),
                }
                terms = ag.Terms(
                    int(kind),
                    asset_id,
                    (grantee,),
                    start=start,
                    end=end,
                    document_hash=document_hash,
                    salt=salt,
                    deadline=deadline,
                )
        details = {k: v for k, v in details.items() if v is not None}
        from dataclasses import replace

        terms = replace(terms, details_hash=hashlib.sha256(canonical_json(details)).digest())
        return terms, details

    def _licence_grantors(self, terms: ag.Terms, owners: list[int]) -> list[int]:
        if terms.parent_licence == b"\0" * 32:
            return owners
        parent = call(self.contract.functions.agreement(terms.parent_licence))
        if (
            parent[1] != ag.AgreementStatus.EFFECTIVE
            or parent[0] != ag.AgreementKind.LICENCE
            or parent[8] != terms.asset_id
        ):
            raise InvalidInput("the parent licence is not an effective licence of this asset", field="parentLicence")
        if not parent[3]:
            raise InvalidInput("the parent licence does not allow sublicensing", field="parentLicence")
        if parent[11] != b"\0" * 32:
            raise InvalidInput(
                "a sublicence is granted under a licence from the owners, not under another sublicence",
                field="parentLicence",
            )
        if parent[5] <= self._chain_time():
            raise InvalidInput("the parent licence has ended", field="parentLicence")
        if terms.licence_type < parent[2]:  # Exclusive 1 < Sole 2 < Ordinary 3: same or narrower
            raise InvalidInput(
                f"a sublicence under a {ag.LicenceType(parent[2]).word} licence is "
                f"{' or '.join(t.word for t in ag.LicenceType.choices() if t >= parent[2])}",
                field="licenceType",
            )
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
            raise InvalidInput(
                f"{agreement_id!r} is not an agreement id (32 bytes hex)", field="agreement_id"
            ) from None
        row = self.journal.proposal(aid)
        if row is None:
            raise NotFound(f"no agreement {aid}", field="agreement_id")
        return ag.Terms.from_json(row.terms), row.details, row.signatures, row.status, row.tx_hash

    def required_parties(self, terms: ag.Terms) -> list[int]:
        owners = [o["partyId"] for o in self.assets.show(terms.asset_id)["owners"]]
        grantors = self._licence_grantors(terms, owners) if terms.kind == ag.AgreementKind.LICENCE else owners
        required = list(dict.fromkeys([*grantors, *terms.grantees]))
        pledge = call(self.contract.functions.pledgeOf(terms.asset_id))
        needs = terms.kind in (ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION) or (
            terms.kind == ag.AgreementKind.LICENCE and terms.licence_type != ag.LicenceType.ORDINARY
        )
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
        sig = ag.parse_signature(signature)
        party_id = self.parties.active_party(account, field="signer", refuse=as_signer)
        required = self.required_parties(terms)
        if party_id not in required:
            raise InvalidInput(
                f"party {party_id} is not a party to this agreement (parties: {required})", field="signer"
            )
        if str(party_id) in sigs:
            raise Conflict(f"party {party_id} has already signed", field="signer")
        message = terms.message(self.domain())
        if self.conn.w3.eth.get_code(
            account
        ):  # a contract wallet (a Safe): asked through ERC-1271, as the contract will
            from ledger.chain.governance import erc1271_accepts

            valid = erc1271_accepts(self.conn.w3, account, eip712.digest(message), sig)
        else:
            valid = eip712.recover(message, sig) == account
        if not valid:
            raise SignatureRejected(
                "AgreementSignatureInvalid",
                {"signer": account},
                "the signature does not verify for these terms and this account",
                field="signature",
            )
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
            raise InvalidInput(
                f"signatures missing from parties {missing}", field="signatures", details={"missingParties": missing}
            )
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
        ag.check_signing_window(deadline, self._chain_time())
        aid = terms.agreement_id(self.domain())
        g = call(self.contract.functions.agreement(aid))
        if g[1] != ag.AgreementStatus.EFFECTIVE:
            raise Conflict("only an effective agreement is terminated", field="agreement_id")
        parties = {int(p) for p in [*g[12], *g[13]]}
        sigs = self.assets.parse_signatures(signatures, ag.termination_message(self.domain(), aid, deadline), parties)
        self._send(self.contract.functions.terminate(aid, deadline, sigs))
        return self.agreement(agreement_id)

    def release(self, agreement_id: str, deadline: int, signer: str, signature: str) -> AgreementView:
        terms, *_ = self._proposal(agreement_id)
        aid = terms.agreement_id(self.domain())
        ag.check_signing_window(deadline, self._chain_time())
        if self.assets.show(terms.asset_id)["frozen"]:
            raise Conflict(
                f"asset {terms.asset_id} is frozen by an open dispute: the pledge is released after the award",
                field="agreement_id",
            )
        self._send(
            self.contract.functions.releasePledge(
                aid, deadline, (parse_account(signer, "signer"), ag.parse_signature(signature))
            )
        )
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
        ag.check_signing_window(deadline, self._chain_time())
        account = parse_account(signer, "signer")
        sig = ag.parse_signature(signature)
        party_id, _active = self.parties.party_of(account)
        parties = set(self.required_parties(terms)) | set(terms.grantees)
        if party_id not in parties:
            raise InvalidInput(
                f"{account} is not an account of a party to this agreement (parties: {sorted(parties)})", field="signer"
            )
        if (
            not self.conn.w3.eth.get_code(account)
            and eip712.recover(ag.withdrawal_message(self.domain(), aid, deadline), sig) != account
        ):
            raise SignatureRejected(
                "AgreementSignatureInvalid",
                {"signer": account},
                "the signature does not verify for this withdrawal and this account",
                field="signature",
            )
        try:
            sent = self._send(self.contract.functions.withdraw(terms.as_tuple(), deadline, (account, sig)))
        except ContractRevert as exc:
            exc.field = exc.field or {
                "AgreementWithdrawnByParty": "agreement_id",
                "AgreementAlreadyExecuted": "agreement_id",
                "SignatureExpired": "deadline",
                "SignatureDeadlineTooFar": "deadline",
            }.get(exc.name)
            raise
        self.journal.close_proposal("0x" + aid.hex(), "withdrawn", sent.tx_hash)
        return {**self.agreement(agreement_id), "withdrawnBy": int(party_id), "transactionHash": sent.tx_hash}

    def certificate(self, agreement_id: str) -> CertificateDocument:
        """The agreement certificate (ledger/certificates/agreement.py) of an agreement in effect."""
        from ledger.certificates import agreement as agreement_certificate

        terms, details, sigs, status, tx_hash = self._proposal(agreement_id)
        if status != "executed" or not tx_hash:
            raise Conflict(
                f"the agreement is {status}: a certificate exists once it is in effect",
                field="agreement_id",
                details={"status": status},
            )
        receipt = self.conn.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        block = self.conn.w3.eth.get_block(receipt["blockNumber"])
        profiles = {int(pid): self.parties.profile(int(pid)) for pid in sigs}
        asset_view = self.assets.show(terms.asset_id)
        view = self.agreement(agreement_id)
        now = self._chain_time()
        state = "in_force" if view.get("status") == "effective" else str(view.get("status"))
        if state == "in_force" and terms.start > now:
            state = "not_yet_in_force"
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
            asset={
                "assetId": terms.asset_id,
                "jurisdiction": asset_view["jurisdiction"],
                "kind": asset_view["kind"],
                **(asset_view.get("details") or {}),
            },
            status={"state": state, "at": now, "closedAt": view.get("closedAt")},
        )
