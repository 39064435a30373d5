"""IPAssetRegistry under random sequences of agreements: a stateful property test (hypothesis).

A ``RuleBasedStateMachine`` drives the REAL contract (one chain, reverted to a snapshot between examples)
alongside a small pure-Python model of the rules of title, from the issue:

    "Only the current owners can assign, license, contribute or pledge; every co-owner signs. Exclusive or
    sole licences of one asset may not overlap in territory, field and term with each other; an ordinary
    licence may not overlap an exclusive one. A pledged asset is not assigned, contributed or exclusively
    licensed without the pledgee's signature. A suspended party signs nothing but a pledgee's release. Shares of an asset always
    sum to 100%."

Every step draws an action (assignment, equity contribution, licence, sublicence, pledge, termination,
pledge release, replay, disputes opened and closed with awards, the operator's attempts at a dispute effect,
suspension/reinstatement, time passing), some of them deliberately
wrong (a co-owner's signature missing, the pledgee's signature missing or superfluous, shares not summing to
10,000, an outsider or a wrong key signing, an expired deadline, a sublicence outside its parent...). The
model predicts whether the contract must accept or refuse, and for a refusal which custom errors are
acceptable (every rule the action breaks; the contract reports the first one it checks). After every step the
invariants are checked against the contract's views ``asset``, ``licencesInForce``, ``pledgeInForce`` and
``agreement``.

Where the quoted rules are silent the model follows the contract's documented behaviour: a pledge encumbers
from the moment it is registered until it ends, is released or terminated (also before its start); "exclusively
licensed" covers exclusive and sole licences (both exclude other licensees); signatures beyond the parties
are refused; the parties to a termination are the agreement's own grantors and grantee; the pledgee alone
releases, and not while the asset is frozen. Disputes are opened and closed by an arbitration institution's two arbitrators (the dispute
registry alone freezes, unfreezes, voids and restores; the operator's direct attempts are refused); an award
voiding a transfer that made the standing title gives it back to the assignors; a sublicence is no broader in
type than its parent, ends with it, and counts against its parent's own capacity (16), not the owners' (32).

Time: terms start and end at whole days from an origin; the chain is kept at midday, so no boundary is ever
within hours of a block time and the model's day decides every "in force" question.

Both EVMs run it: anvil, and py-evm (eth-tester) with a third of the examples (it is ~3x slower here: each step
makes a dozen view calls). ``IPLEDGER_HYPOTHESIS_EXAMPLES`` (default 25, on anvil) and
``IPLEDGER_HYPOTHESIS_STEPS`` (default 15) scale the search.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger.chain.codec import as_revert
from ledger.chain.sender import TxSender
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.territory import to_mask
from ledger.errors import ContractRevert
from tests.helpers import (
    FIRM_USCC,
    Chain,
    account,
    admit_arbitrator,
    assets_domain,
    dispute_close_fn,
    dispute_open_fn,
    make_uscc,
    register_asset,
)

EXAMPLES = int(os.environ.get("IPLEDGER_HYPOTHESIS_EXAMPLES", "25"))
STEPS = int(os.environ.get("IPLEDGER_HYPOTHESIS_STEPS", "15"))
BACKENDS = ("anvil", "eth-tester")
FIXTURES = {"anvil": "anvil_chain", "eth-tester": "eth_tester_chain"}

DAY = 86_400
NOON = DAY // 2
GAS = 3_000_000
TOTAL = ag.TOTAL_SHARES
MAX_LICENCES = 32
MAX_SUBLICENCES = 16
ZERO32 = ag.ZERO32
AK, LT, ST = ag.AgreementKind, ag.LicenceType, ag.AgreementStatus

CODES = ("CN", "HK", "MO", "SG", "US")
MASK = {code: to_mask([code]) for code in CODES}
FIELDS = (ZERO32, keccak(text="field:medical devices"), keccak(text="field:automotive"))
LICENCE_TYPES = (LT.EXCLUSIVE, LT.SOLE, LT.ORDINARY)


def codes_of(mask: int) -> list[str]:
    return [c for c in CODES if mask & MASK[c]]


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


# --- the parties and assets, set up once per test run --------------------------------------------------


@dataclass(frozen=True)
class Party:
    pid: int
    name: str
    acct: LocalAccount
    financial: bool
    uscc: bool


PARTY_SPECS = (
    # name, kind, jurisdiction, scheme, identifier
    ("uni-1", "university", "hksar", "hkbrn", "70000001"),
    ("uni-2", "university", "hksar", "hkbrn", "70000002"),
    ("firm-x", "firm", "mainland", "uscc", FIRM_USCC),  # a company: may take an equity contribution
    ("firm-y", "firm", "hksar", "hkbrn", "70000003"),
    ("firm-z", "firm", "other", "other", "TITLE-OTHER-1"),
    ("bank", "financial", "mainland", "uscc", make_uscc("title-invariants:bank")),
)


class World:
    """The parties and assets on one chain, a snapshot of that state, and the chain's clock."""

    def __init__(self, chain: Chain, backend: str) -> None:
        self.chain = chain
        self.backend = backend
        self.parties: dict[int, Party] = {}
        for name, kind, jurisdiction, scheme, identifier in PARTY_SPECS:
            acct = account(f"title-invariants:{name}")
            pid = chain.admit(
                [acct.address], kind=kind, jurisdiction=jurisdiction, scheme=scheme, identifier=identifier
            )
            self.parties[pid] = Party(pid, name, acct, kind == "financial", scheme == "uscc")
        self.pids = sorted(self.parties)
        by = {p.name: p for p in self.parties.values()}
        self.bank = by["bank"].pid
        self.mallory = account("title-invariants:mallory")
        self.arb, self.p_arb = admit_arbitrator(chain, "title-invariants-arbitrator")  # not among the dealing parties
        chain.as_(self.arb)  # funds it: the arbitrator sends its own transactions
        initial = [  # (owners, shares, number): one sole owner, two co-owned assets
            (["uni-1"], [TOTAL], "CN202010000001.1"),
            (["uni-1", "uni-2"], [6000, 4000], "CN202010000002.2"),
            (["uni-2", "firm-z"], [7000, 3000], "HK30012345.6"),
        ]
        self.initial: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for names, shares, number in initial:
            aid = register_asset(chain, [(by[n].pid, by[n].acct) for n in names], shares, number=number)
            self.initial[aid] = (tuple(by[n].pid for n in names), tuple(shares))
        self.asset_ids = sorted(self.initial)
        self.domain = assets_domain(chain)
        self._snap = chain.snapshot()

    def name(self, pid: int) -> str:
        return self.parties[pid].name if pid in self.parties else f"party#{pid}"

    def reset(self) -> None:
        """Back to the state right after setup (anvil consumes a snapshot on revert: take a new one)."""
        self.chain.revert(self._snap)
        if self.backend == "anvil":
            self._snap = self.chain.snapshot()

    def travel_to(self, timestamp: int) -> None:
        if self.backend == "anvil":
            rpc = self.chain.w3.provider.make_request  # type: ignore[union-attr]
            for method, params in (("evm_setNextBlockTimestamp", [timestamp]), ("evm_mine", [])):
                answer = rpc(method, params)  # type: ignore[arg-type]
                assert "error" not in answer, answer
        else:
            # eth-tester mines a block stamped one second before the time it is given
            self.chain.w3.provider.ethereum_tester.time_travel(timestamp + 1)  # type: ignore[union-attr]
        assert self.chain.now() >= timestamp


# --- the reference model ---------------------------------------------------------------------------------


@dataclass
class Deal:
    """An agreement that took effect. Terms are in whole days from the model's origin (boundaries at midnight)."""

    id: bytes
    kind: int
    asset: int
    terms: ag.Terms
    grantors: tuple[int, ...]
    grantees: tuple[int, ...]
    status: int = ST.EFFECTIVE
    start: int = 0
    end: int = 0
    licence_type: int = 0
    territory: int = 0
    field: bytes = ZERO32
    sublicensable: bool = False
    parent: bytes = ZERO32
    prior: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # a transfer: the title it replaced
    prior_seq: int = 0
    title_seq: int = 0


def conflicts(
    a_type: int,
    a_id: bytes,
    a_parent: bytes,
    a_scope: tuple[int, int, int, bytes],
    b_type: int,
    b_id: bytes,
    b_parent: bytes,
    b_scope: tuple[int, int, int, bytes],
) -> bool:
    """The overlap rule: exclusive or sole licences exclude every licence overlapping them in term, territory
    and field; two ordinary licences never conflict; a sublicence does not conflict with its own parent.
    A scope is (start, end, territory, field) with ``end`` exclusive and field 0 = every field."""
    if a_type == LT.ORDINARY and b_type == LT.ORDINARY:
        return False
    if a_parent == b_id or b_parent == a_id:
        return False
    a_start, a_end, a_terr, a_field = a_scope
    b_start, b_end, b_terr, b_field = b_scope
    return (
        a_start < b_end
        and b_start < a_end
        and a_terr & b_terr != 0
        and (a_field == ZERO32 or b_field == ZERO32 or a_field == b_field)
    )


class Model:
    def __init__(self, world: World) -> None:
        self.day = 0
        self.owners = dict(world.initial)
        self.disputes = {aid: 0 for aid in world.initial}
        self.suspended: set[int] = set()
        self.deals: dict[bytes, Deal] = {}
        self.open: dict[bytes, tuple[int, bytes | None]] = {}  # dispute -> (asset, disputed agreement)
        self.title_seq = {aid: 0 for aid in world.initial}  # the number of the title standing
        self.title_count = {aid: 0 for aid in world.initial}

    def frozen(self, aid: int) -> bool:
        return self.disputes[aid] > 0

    def ended_with_parent(self, d: Deal) -> bool:
        """A sublicence whose parent licence was terminated or voided ended with it."""
        return d.status == ST.EFFECTIVE and d.parent != ZERO32 and self.deals[d.parent].status != ST.EFFECTIVE

    def effective(self, d: Deal) -> bool:
        return d.status == ST.EFFECTIVE and not self.ended_with_parent(d)

    def live(self, d: Deal) -> bool:
        """Effective and not ended: in force now or later."""
        return self.effective(d) and d.end > self.day

    def in_force(self, d: Deal) -> bool:
        return self.effective(d) and d.start <= self.day < d.end

    def licences(self, aid: int | None = None) -> list[Deal]:
        return [d for d in self.deals.values() if d.kind == AK.LICENCE and (aid is None or d.asset == aid)]

    def pledges(self, aid: int | None = None) -> list[Deal]:
        return [d for d in self.deals.values() if d.kind == AK.PLEDGE and (aid is None or d.asset == aid)]

    def encumbrance(self, aid: int) -> Deal | None:
        """The pledge encumbering the asset (registered, not ended, released or terminated), if any."""
        live = [d for d in self.pledges(aid) if self.live(d)]
        assert len(live) <= 1, f"model: two pledges of asset {aid} at once"
        return live[0] if live else None

    def licences_in_force(self, aid: int) -> set[bytes]:
        return {d.id for d in self.licences(aid) if self.in_force(d)}

    def pledge_in_force(self, aid: int) -> bytes:
        pledge = self.encumbrance(aid)
        return pledge.id if pledge is not None and pledge.start <= self.day else ZERO32


class Expect:
    """What the rules say about one action: accept, or refuse with one of the errors of the rules it breaks."""

    ANY = None

    def __init__(self, what: str) -> None:
        self.what = what
        self.faults: dict[str, list[tuple[str, Any]] | None] = {}

    def fault(self, name: str, **arg: Any) -> None:
        """A rule broken; ``arg`` (one key) narrows the acceptable argument of the error, e.g. reason="term"."""
        if not arg:
            self.faults[name] = self.ANY
        elif self.faults.get(name, []) is not self.ANY:
            ((key, value),) = arg.items()
            self.faults.setdefault(name, []).append((key, hex32(value) if isinstance(value, bytes) else value))  # type: ignore[union-attr]

    @property
    def ok(self) -> bool:
        return not self.faults

    def matches(self, err: ContractRevert) -> bool:
        if err.name not in self.faults:
            return False
        alternatives = self.faults[err.name]
        return alternatives is self.ANY or any(err.args_.get(k) == v for k, v in alternatives)

    def describe(self) -> str:
        return ", ".join(
            n if a is None else f"{n}({' | '.join(f'{k}={v}' for k, v in a)})" for n, a in self.faults.items()
        )


Sig = tuple[int, bool]  # (party id, signed with a wrong key)


# --- the state machine -----------------------------------------------------------------------------------


class TitleMachine(RuleBasedStateMachine):
    world: ClassVar[World | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.model: Model | None = None

    # --- plumbing ---

    @property
    def w(self) -> World:
        assert TitleMachine.world is not None
        return TitleMachine.world

    @property
    def m(self) -> Model:
        assert self.model is not None
        return self.model

    @initialize(focus=st.integers(0, 2))
    def start_clean(self, focus: int) -> None:
        """Back to the snapshot; most actions of this example concern one asset, so agreements interact."""
        w = self.w
        w.reset()
        self.focus = w.asset_ids[focus % len(w.asset_ids)]
        self.model = Model(w)
        self.sender = TxSender(w.chain.w3, w.chain.operator)
        self.origin = w.chain.now() - NOON  # day 0 starts here; the chain is at its midday
        self.salt = 0
        self.frozen_since: dict[
            int, tuple[list[int], int]
        ] = {}  # asset -> (owners, last block before it was seen frozen)
        for aid, (owners, shares) in w.initial.items():  # the revert really restored the registered title
            _, _, chain_owners, chain_shares, frozen = w.chain.assets.functions.asset(aid).call()
            assert (tuple(chain_owners), tuple(chain_shares), frozen) == (owners, shares, False)
        assert w.chain.assets.functions.licencesInForce(w.asset_ids[0], w.chain.now()).call() == []

    def teardown(self) -> None:
        if TitleMachine.world is not None and self.model is not None:
            self.w.reset()  # every example leaves the chain as it found it

    def ts(self, day: int) -> int:
        return self.origin + day * DAY

    def names(self, pids: tuple[int, ...] | list[int]) -> str:
        return "+".join(self.w.name(p) for p in pids)

    def new_terms(self, kind: int, aid: int, grantees: list[int], expired: bool, **kw: Any) -> ag.Terms:
        self.salt += 1
        now = self.w.chain.now()
        return ag.Terms(
            kind=kind,
            asset_id=aid,
            grantees=tuple(grantees),
            document_hash=keccak(text=f"contract-{self.salt}.pdf"),
            salt=keccak(text=f"title-invariants-salt:{self.salt}"),
            deadline=now - 1 if expired else now + 3600,
            **kw,
        )

    def sign(self, message: dict[str, Any], sigs: list[Sig]) -> list[tuple[str, bytes]]:
        digest = eip712.digest(message)
        out = []
        for pid, wrong in sigs:
            acct = self.w.parties[pid].acct
            out.append((acct.address, eip712.sign_digest(digest, self.w.mallory if wrong else acct)))
        return out

    def submit(self, fn: Any, expect: Expect, as_: LocalAccount | None = None) -> bool:
        """Dry-runs the call (as ``as_``, else the relayer) and compares with the rules; sends it when accepted.
        True if it took effect."""
        note(f"  rules: {'accept' if expect.ok else 'refuse: ' + expect.describe()}")
        try:
            fn.call({"from": (as_ or self.w.chain.operator).address}, block_identifier="latest")
        except Exception as exc:
            err = as_revert(exc)
            if not isinstance(err, ContractRevert):
                raise err from exc
            note(f"  contract: {err.name} {err.args_}")
            assert not expect.ok, f"{expect.what}: the contract refused it ({err}) but the rules allow it"
            assert expect.matches(err), (
                f"{expect.what}: the contract refused with {err}; the rules expect {expect.describe()}"
            )
            return False
        note("  contract: accepted")
        assert expect.ok, f"{expect.what}: the contract accepted it but the rules refuse it ({expect.describe()})"
        (self.w.chain.as_(as_) if as_ is not None else self.sender).send_call(fn, gas=GAS)  # as_ funds the account
        return True

    def draw_signers(self, data: st.DataObject, required: list[int], pledgee: int | None) -> tuple[list[Sig], bool]:
        """Mostly every required party once; sometimes one missing, an outsider, a duplicate, a wrong key, the
        pledgee's signature toggled (dropped when needed, added when not), or an expired deadline."""
        mode = data.draw(st.integers(0, 19), label="signature mode")  # 0-13: as required
        sigs: list[Sig] = [(p, False) for p in required]
        expired = False
        outsiders = [p for p in self.w.pids if p not in required]
        if mode == 14 and sigs:
            del sigs[data.draw(st.integers(0, len(sigs) - 1), label="missing signer")]
        elif mode == 15 and outsiders:
            sigs.append((data.draw(st.sampled_from(outsiders), label="outsider"), False))
        elif mode == 16 and sigs:
            sigs.append(sigs[data.draw(st.integers(0, len(sigs) - 1), label="duplicate signer")])
        elif mode == 17 and sigs:
            i = data.draw(st.integers(0, len(sigs) - 1), label="wrong-key signer")
            sigs[i] = (sigs[i][0], True)
        elif mode == 18:
            expired = True
        elif mode == 19 and pledgee is not None:
            sigs = [s for s in sigs if s[0] != pledgee] if pledgee in required else sigs + [(pledgee, False)]
        if len(sigs) > 1 and data.draw(st.booleans(), label="shuffle signatures"):
            sigs = list(data.draw(st.permutations(sigs), label="signature order"))
        return sigs, expired

    def signature_faults(
        self, e: Expect, required: list[int], sigs: list[Sig], expired: bool, *, suspension_blocks: bool = True
    ) -> None:
        if expired:
            e.fault("SignatureExpired")
        seen: set[int] = set()
        for pid, wrong in sigs:
            if suspension_blocks and pid in self.m.suspended:
                e.fault("AgreementSignerNotActive")  # a suspended party signs nothing (but a pledgee's release)
            elif pid not in required:
                e.fault("AgreementSignerNotAParty")
            elif pid in seen:
                e.fault("AgreementSignatureDuplicate")
            elif wrong:
                e.fault("AgreementSignatureInvalid")
            seen.add(pid)
        signed = {pid for pid, wrong in sigs if not wrong}
        for pid in required:
            if pid not in signed:
                e.fault("AgreementSignatureMissing", partyId=pid)  # every co-owner / party / the pledgee signs

    @staticmethod
    def mostly(data: st.DataObject, label: str) -> bool:
        """True 80% of the time (shrinks to True): steers draws towards valid agreements."""
        return data.draw(st.integers(0, 9), label=label) < 8

    def pick(self, data: st.DataObject, preferred: list[Any], fallback: list[Any], label: str) -> Any:
        pool = preferred if preferred and self.mostly(data, f"{label}: preferred?") else fallback
        return data.draw(st.sampled_from(pool), label=label)

    def draw_asset(self, data: st.DataObject) -> int:
        return self.pick(data, [self.focus], self.w.asset_ids, "asset")

    def draw_term(self, data: st.DataObject) -> tuple[int, int]:
        """(start, end) in days: mostly a current or near-future term, sometimes backdated, ended or empty."""
        start = self.m.day + data.draw(st.integers(-3, 4), label="start (days from today)")
        length = data.draw(st.sampled_from([3, 1, 2, 7, 30, 1, 2, 3, 0, -1]), label="length (days)")
        return start, start + length

    def record(self, terms: ag.Terms, grantors: tuple[int, ...], **scope: Any) -> Deal:
        """Adds an agreement that took effect to the model and checks what the contract stored for it."""
        deal = Deal(
            terms.agreement_id(self.w.domain), terms.kind, terms.asset_id, terms, grantors, terms.grantees, **scope
        )
        self.m.deals[deal.id] = deal
        g = self.w.chain.assets.functions.agreement(deal.id).call()
        (
            kind,
            status,
            licence_type,
            sublicensable,
            start,
            end,
            _eff,
            _closed,
            asset_id,
            territory,
            field,
            parent,
            g_grantors,
            g_grantees,
        ) = g
        assert (kind, status, asset_id) == (deal.kind, ST.EFFECTIVE, deal.asset)
        if deal.kind in (AK.LICENCE, AK.PLEDGE):
            assert (tuple(g_grantors), tuple(g_grantees)) == (grantors, terms.grantees)
            assert (start, end) == (terms.start, terms.end)
        if deal.kind == AK.LICENCE:
            assert (licence_type, sublicensable, territory, bytes(field), bytes(parent)) == (
                deal.licence_type,
                deal.sublicensable,
                deal.territory,
                deal.field,
                deal.parent,
            )
        return deal

    # --- title: assignment and equity contribution ---

    @rule(data=st.data())
    def transfer_title(self, data: st.DataObject) -> None:
        """Assignment (to 1-2 assignees) or equity contribution (to one USCC company) by the current owners."""
        m, w = self.m, self.w
        aid = self.draw_asset(data)
        owners, _ = m.owners[aid]
        equity = data.draw(st.booleans(), label="equity contribution")
        kind = AK.EQUITY_CONTRIBUTION if equity else AK.ASSIGNMENT
        others = [p for p in w.pids if p not in owners]
        if equity:
            companies = [p for p in others if w.parties[p].uscc]
            pool = companies if companies and self.mostly(data, "to a USCC company?") else w.pids
            n = 1 if self.mostly(data, "to one company?") else 2
        else:
            pool = others if self.mostly(data, "to non-owners?") else w.pids
            n = data.draw(st.sampled_from([1, 2]), label="number of new owners")
        n = min(n, len(pool))
        grantees = data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n, unique=True), label="new owners")
        share_case = data.draw(st.integers(0, 9), label="shares case")  # 8: off by one, 9: a zero share
        if n == 1:
            shares = [{8: TOTAL - 1, 9: 0}.get(share_case, TOTAL)]
        else:
            first = data.draw(st.integers(1, TOTAL - 1), label="first share")
            shares = [first, TOTAL - first + (1 if share_case == 8 else 0)] if share_case != 9 else [TOTAL, 0]
        pledge = m.encumbrance(aid)
        required = list(owners) + grantees
        if pledge is not None and pledge.grantees[0] not in required:
            required.append(pledge.grantees[0])  # a pledged asset moves only with the pledgee's signature
        sigs, expired = self.draw_signers(data, required, pledge.grantees[0] if pledge else None)
        e = Expect(f"{AK(kind).name} of asset {aid} from {self.names(owners)} to {self.names(grantees)} {shares}")
        note(f"{e.what}, signed by {self.names([p for p, _ in sigs])}{' (expired)' if expired else ''}")
        if m.frozen(aid):
            e.fault("AssetIsFrozen")
        if sum(shares) != TOTAL or 0 in shares:
            e.fault("SharesInvalid")  # shares always sum to 100%
        if equity and n != 1:
            e.fault("AgreementInvalid", reason="an equity contribution goes to one company")
        if equity and not w.parties[grantees[0]].uscc:
            e.fault("AgreementInvalid", reason="the company must be identified by a USCC")
        if set(grantees) & set(owners):
            e.fault("AgreementInvalid", reason="a grantor cannot also be a grantee")
        self.signature_faults(e, required, sigs, expired)
        terms = self.new_terms(kind, aid, grantees, expired, shares=tuple(shares))
        if self.submit(w.chain.assets.functions.execute(terms.as_tuple(), self.sign(terms.message(w.domain), sigs)), e):
            prior, prior_seq = m.owners[aid], m.title_seq[aid]
            m.title_count[aid] += 1
            m.title_seq[aid] = m.title_count[aid]
            m.owners[aid] = (tuple(grantees), tuple(shares))
            self.record(terms, owners, prior=prior, prior_seq=prior_seq, title_seq=m.title_seq[aid])

    # --- licences and sublicences ---

    def draw_scope(self, data: st.DataObject) -> tuple[int, bytes, int, int]:
        codes = (
            []
            if data.draw(st.integers(0, 14), label="no territory?") == 14
            else data.draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True), label="territory")
        )
        field = data.draw(st.sampled_from(FIELDS), label="field of use")
        start, end = self.draw_term(data)
        return to_mask(codes) if codes else 0, field, start, end

    @rule(data=st.data())
    def grant_licence(self, data: st.DataObject) -> None:
        aid = self.draw_asset(data)
        licensee = self.pick(data, [p for p in self.w.pids if p not in self.m.owners[aid][0]], self.w.pids, "licensee")
        licence_type = data.draw(st.sampled_from(LICENCE_TYPES), label="licence type")
        territory, field, start, end = self.draw_scope(data)
        sublicensable = data.draw(st.booleans(), label="sublicensable")
        self.licence(data, aid, None, licensee, licence_type, territory, field, start, end, sublicensable)

    @precondition(lambda self: self.model is not None and bool(self.model.licences()))
    @rule(data=st.data())
    def grant_sublicence(self, data: st.DataObject) -> None:
        m = self.m
        good = [d for d in m.licences() if m.live(d) and d.sublicensable and d.parent == ZERO32]
        parent = self.pick(data, good, m.licences(), "parent licence")
        aid = parent.asset
        if data.draw(st.integers(0, 9), label="other asset?") == 9:
            aid = data.draw(st.sampled_from([a for a in self.w.asset_ids if a != parent.asset]), label="other asset")
        licensee = self.pick(data, [p for p in self.w.pids if p != parent.grantees[0]], self.w.pids, "sublicensee")
        licence_type = data.draw(st.sampled_from(LICENCE_TYPES), label="licence type")
        if data.draw(st.integers(0, 3), label="inside parent?") < 3:
            codes = data.draw(
                st.lists(st.sampled_from(codes_of(parent.territory)), min_size=1, unique=True), label="territory"
            )
            territory = to_mask(codes)
            field = parent.field if parent.field != ZERO32 else data.draw(st.sampled_from(FIELDS), label="field of use")
            start = data.draw(st.integers(parent.start, parent.end - 1), label="start (day)")
            end = data.draw(st.integers(start + 1, parent.end), label="end (day)")
        else:
            territory, field, start, end = self.draw_scope(data)
        self.licence(data, aid, parent, licensee, licence_type, territory, field, start, end, False)

    def licence(
        self,
        data: st.DataObject,
        aid: int,
        parent: Deal | None,
        licensee: int,
        licence_type: int,
        territory: int,
        field: bytes,
        start: int,
        end: int,
        sublicensable: bool,
    ) -> None:
        m, w = self.m, self.w
        grantors = m.owners[aid][0] if parent is None else parent.grantees
        pledge = m.encumbrance(aid)
        pledgee = pledge.grantees[0] if pledge is not None else None
        required = list(grantors) + [licensee]
        if pledgee is not None and licence_type != LT.ORDINARY and pledgee not in required:
            required.append(pledgee)  # not exclusively licensed without the pledgee's signature
        sigs, expired = self.draw_signers(data, required, pledgee)
        what = "sublicence" if parent is not None else "licence"
        e = Expect(
            f"{LT(licence_type).name} {what} of asset {aid} from {self.names(grantors)} to {w.name(licensee)}: "
            f"{codes_of(territory)} field={FIELDS.index(field) if field in FIELDS else '?'} days [{start}, {end}) "
            f"today={m.day}{' sublicensable' if sublicensable else ''}"
            f"{f' under {hex32(parent.id)[:10]}' if parent else ''}"
        )
        note(f"{e.what}, signed by {self.names([p for p, _ in sigs])}{' (expired)' if expired else ''}")
        if m.frozen(aid):
            e.fault("AssetIsFrozen")
        if territory == 0:
            e.fault("AgreementInvalid", reason="territory")
        if end <= start:
            e.fault("AgreementInvalid", reason="end must be after start")
        if end <= m.day:
            e.fault("AgreementInvalid", reason="the term has ended")
        if parent is not None:
            bad = []
            if parent.asset != aid:
                bad.append("no such licence of this asset")
            if parent.status != ST.EFFECTIVE or parent.end <= m.day:
                bad.append("parent not in force")
            if not parent.sublicensable:
                bad.append("parent not sublicensable")
            if parent.parent != ZERO32:
                bad.append("no sublicence of a sublicence")
            if territory & ~parent.territory:
                bad.append("territory")
            if parent.field != ZERO32 and field != parent.field:
                bad.append("field of use")
            if start < parent.start or end > parent.end:
                bad.append("term")
            if licence_type < parent.licence_type:  # same or narrower type only
                bad.append("licence type")
            for reason in bad:
                e.fault("SublicenceOutsideParent", reason=reason)
        if licensee in grantors:
            e.fault("AgreementInvalid", reason="a grantor cannot also be a grantee")
        self.signature_faults(e, required, sigs, expired)
        parent_id = parent.id if parent is not None else ZERO32
        live = [d for d in m.licences(aid) if m.live(d)]
        for other in live:
            if conflicts(
                licence_type,
                b"",
                parent_id,
                (start, end, territory, field),
                other.licence_type,
                other.id,
                other.parent,
                (other.start, other.end, other.territory, other.field),
            ):
                e.fault("LicenceOverlaps", existing=other.id)
        if parent is None and len([d for d in live if d.parent == ZERO32]) >= MAX_LICENCES:
            e.fault("AssetLicenceLimitReached")
        if parent is not None and len([d for d in live if d.parent == parent.id]) >= MAX_SUBLICENCES:
            e.fault("SublicenceLimitReached")  # sublicences have their own capacity, per parent
        terms = self.new_terms(
            AK.LICENCE,
            aid,
            [licensee],
            expired,
            licence_type=licence_type,
            territory=territory,
            field_of_use=field,
            sublicensable=sublicensable,
            parent_licence=parent_id,
            start=self.ts(start),
            end=self.ts(end),
        )
        if self.submit(w.chain.assets.functions.execute(terms.as_tuple(), self.sign(terms.message(w.domain), sigs)), e):
            self.record(
                terms,
                tuple(grantors),
                start=start,
                end=end,
                licence_type=licence_type,
                territory=territory,
                field=field,
                sublicensable=sublicensable,
                parent=parent_id,
            )

    # --- pledges; termination, release, replay ---

    @rule(data=st.data())
    def pledge(self, data: st.DataObject) -> None:
        m, w = self.m, self.w
        aid = self.draw_asset(data)
        pledgee = self.pick(data, [w.bank], w.pids, "pledgee")
        start, end = self.draw_term(data)
        owners = m.owners[aid][0]
        current = m.encumbrance(aid)
        required = list(owners) + ([pledgee] if pledgee not in owners else [])
        sigs, expired = self.draw_signers(data, required, current.grantees[0] if current else None)
        e = Expect(
            f"pledge of asset {aid} by {self.names(owners)} to {w.name(pledgee)} days [{start}, {end}) today={m.day}"
        )
        note(f"{e.what}, signed by {self.names([p for p, _ in sigs])}{' (expired)' if expired else ''}")
        if m.frozen(aid):
            e.fault("AssetIsFrozen")
        if end <= start:
            e.fault("AgreementInvalid", reason="end must be after start")
        if end <= m.day:
            e.fault("AgreementInvalid", reason="the term has ended")
        if not w.parties[pledgee].financial:
            e.fault("AgreementInvalid", reason="the pledgee must be a financial institution")
        if pledgee in owners:
            e.fault("AgreementInvalid", reason="a grantor cannot also be a grantee")
        if current is not None:
            e.fault("AssetPledged", pledge=current.id)  # at most one pledge
        self.signature_faults(e, required, sigs, expired)
        terms = self.new_terms(AK.PLEDGE, aid, [pledgee], expired, start=self.ts(start), end=self.ts(end))
        if self.submit(w.chain.assets.functions.execute(terms.as_tuple(), self.sign(terms.message(w.domain), sigs)), e):
            self.record(terms, tuple(owners), start=start, end=end)

    @precondition(lambda self: self.model is not None and bool(self.model.deals))
    @rule(data=st.data())
    def revisit_agreement(self, data: st.DataObject) -> None:
        """An agreement that took effect: its parties terminate it, its pledgee releases it, or it is replayed."""
        choice = data.draw(st.integers(0, 9), label="terminate / release / replay")
        if choice < 5:
            self.terminate(data)
        elif choice < 9 and self.m.pledges():
            self.release_pledge(data)
        else:
            self.replay(data)

    def draw_to_close(self, data: st.DataObject, deals: list[Deal], label: str) -> Deal | None:
        """Sometimes an agreement still effective but ended (an edge worth probing), mostly an open one, else any."""
        m = self.m
        ended = [d for d in deals if d.status == ST.EFFECTIVE and d.kind in (AK.LICENCE, AK.PLEDGE) and d.end <= m.day]
        if not deals:
            return None
        if ended and data.draw(st.integers(0, 2), label=f"{label}: an ended one?") == 0:
            return data.draw(st.sampled_from(ended), label=label)
        return self.pick(
            data, [d for d in deals if d.status == ST.EFFECTIVE and d.kind in (AK.LICENCE, AK.PLEDGE)], deals, label
        )

    def release_pledge(self, data: st.DataObject) -> None:
        """The pledgee releases (any pledge the model knows, also ended or closed ones; rarely a licence)."""
        m, w = self.m, self.w
        candidates = m.pledges() + (m.licences()[:1] if data.draw(st.integers(0, 9), label="a licence?") == 9 else [])
        deal = self.draw_to_close(data, candidates, "pledge")
        if deal is None:
            return
        pledgee = deal.grantees[0]
        mode = data.draw(st.integers(0, 8), label="release signer mode")
        signer, wrong, expired = pledgee, mode == 6, mode == 8
        if mode == 7:
            signer = data.draw(st.sampled_from([p for p in w.pids if p != pledgee]), label="not the pledgee")
        e = Expect(
            f"release of {AK(deal.kind).name} {hex32(deal.id)[:10]} (asset {deal.asset}, status {ST(deal.status).name}, "
            f"days [{deal.start}, {deal.end}) today={m.day}) signed by {w.name(signer)}"
        )
        note(e.what)
        if deal.status != ST.EFFECTIVE:
            e.fault("AgreementNotEffective")
        if deal.kind != AK.PLEDGE:
            e.fault("AgreementInvalid", reason="not a pledge")
        elif deal.status == ST.EFFECTIVE and m.frozen(deal.asset):
            e.fault("AssetIsFrozen")  # nothing moves until the award, a release neither
        # a suspension never blocks a release: it only frees the owner's asset
        self.signature_faults(e, [pledgee], [(signer, wrong)], expired, suspension_blocks=False)
        deadline = w.chain.now() + (-1 if expired else 3600)
        sig = self.sign(ag.release_message(w.domain, deal.id, deadline), [(signer, wrong)])[0]
        if self.submit(w.chain.assets.functions.releasePledge(deal.id, deadline, sig), e):
            deal.status = ST.RELEASED

    def terminate(self, data: st.DataObject) -> None:
        """All parties of an agreement end it (mostly licences and pledges; sometimes a transfer or an unknown id)."""
        m, w = self.m, self.w
        deal: Deal | None = None
        if data.draw(st.integers(0, 14), label="unknown agreement?") < 14:
            deal = self.draw_to_close(data, list(m.deals.values()), "agreement")
        agreement_id = deal.id if deal is not None else keccak(text=f"no such agreement {self.salt}")
        required = list(deal.grantors + deal.grantees) if deal is not None else []
        sigs, expired = self.draw_signers(data, required, None)
        e = Expect(
            f"termination of {AK(deal.kind).name + ' ' if deal else 'unknown '}{hex32(agreement_id)[:10]}"
            + (
                f" (asset {deal.asset}, status {ST(deal.status).name}, days [{deal.start}, {deal.end}) today={m.day})"
                if deal
                else ""
            )
        )
        note(f"{e.what}, signed by {self.names([p for p, _ in sigs])}{' (expired)' if expired else ''}")
        if deal is None:
            e.fault("AgreementUnknown")
        else:
            if not m.effective(deal):
                e.fault("AgreementNotEffective")
            if deal.kind not in (AK.LICENCE, AK.PLEDGE):
                e.fault(
                    "AgreementInvalid",
                    reason="only licences and pledges are terminated; title moves back by a new assignment",
                )
            if m.frozen(deal.asset):
                e.fault("AssetIsFrozen")
        self.signature_faults(e, required, sigs, expired)
        deadline = w.chain.now() + (-1 if expired else 3600)
        message = ag.termination_message(w.domain, agreement_id, deadline)
        if self.submit(w.chain.assets.functions.terminate(agreement_id, deadline, self.sign(message, sigs)), e):
            assert deal is not None
            deal.status = ST.TERMINATED

    def replay(self, data: st.DataObject) -> None:
        m, w = self.m, self.w
        deal = data.draw(st.sampled_from(list(m.deals.values())), label="agreement to replay")
        e = Expect(f"replay of {AK(deal.kind).name} {hex32(deal.id)[:10]}")
        note(e.what)
        e.fault("AgreementAlreadyExecuted", agreementId=deal.id)
        sigs = [(p, False) for p in dict.fromkeys(deal.grantors + deal.grantees)]
        self.submit(
            w.chain.assets.functions.execute(deal.terms.as_tuple(), self.sign(deal.terms.message(w.domain), sigs)), e
        )

    @rule(data=st.data())
    def withdraw_proposal(self, data: st.DataObject) -> None:
        """Fresh licence terms everyone signed; a party (or an outsider) withdraws before execution; then the
        signatures are submitted. Withdrawn terms never take effect, whoever holds the signatures."""
        m, w = self.m, self.w
        aid = self.draw_asset(data)
        owners = m.owners[aid][0]
        licensee = self.pick(data, [p for p in w.pids if p not in owners], w.pids, "licensee")
        terms = self.new_terms(
            AK.LICENCE,
            aid,
            [licensee],
            False,
            licence_type=LT.ORDINARY,
            territory=MASK["MO"],
            start=self.ts(m.day),
            end=self.ts(m.day + 2),
        )
        pledge = m.encumbrance(aid)
        parties = set(owners) | {licensee} | ({pledge.grantees[0]} if pledge is not None else set())
        who = data.draw(st.sampled_from(w.pids), label="who withdraws")
        e = Expect(f"{w.name(who)} withdraws a licence of asset {aid} to {w.name(licensee)}")
        note(e.what)
        if who not in parties:
            e.fault("AgreementWithdrawalNotAParty", partyId=who)  # a suspended party may withdraw: no fault for that
        deadline = w.chain.now() + 3600
        sig = self.sign(ag.withdrawal_message(w.domain, terms.agreement_id(w.domain), deadline), [(who, False)])[0]
        withdrawn = self.submit(w.chain.assets.functions.withdraw(terms.as_tuple(), deadline, sig), e)
        if not withdrawn:
            return
        after = Expect(f"execution of the withdrawn licence {hex32(terms.agreement_id(w.domain))[:10]}")
        note(after.what)
        after.fault("AgreementWithdrawnByParty")
        sigs = [(p, False) for p in list(owners) + [licensee]]
        self.submit(w.chain.assets.functions.execute(terms.as_tuple(), self.sign(terms.message(w.domain), sigs)), after)

    # --- disputes, suspensions, time ---

    @rule(data=st.data())
    def operator_acts(self, data: st.DataObject) -> None:
        """The arbitration institution (two arbitrators' signatures) opens or closes a dispute (which alone freezes, unfreezes, voids and restores), the
        operator tries a dispute effect itself, or a party is suspended or reinstated."""
        choice = data.draw(st.integers(0, 9), label="dispute / operator's attempt / suspension")
        if choice < 5:
            self.dispute(data)
        elif choice == 5:
            self.operator_tries_a_dispute_effect(data)
        else:
            self.suspend_or_reinstate(data)

    def dispute(self, data: st.DataObject) -> None:
        """Disputes nest. Mostly: open one over an asset without one, else close an open one."""
        m, w = self.m, self.w
        aid = self.draw_asset(data)
        opening = not m.frozen(aid) or not self.mostly(data, "close an open one?")
        if not m.open:
            opening = True
        if opening:
            deals = [d for d in m.deals.values() if d.asset == aid]
            subject = (
                data.draw(st.sampled_from(deals), label="disputed agreement")
                if deals and data.draw(st.booleans(), label="over an agreement?")
                else None
            )
            claimant, respondent = data.draw(st.permutations(w.pids), label="claimant, respondent")[:2]
            e = Expect(f"dispute over {'agreement ' + hex32(subject.id)[:10] if subject else f'asset {aid}'} opens")
            note(e.what)
            kind, sid = (2, subject.id) if subject else (1, aid.to_bytes(32, "big"))
            fn = dispute_open_fn(w.chain, w.arb, "agreement" if kind == 2 else "asset", sid, claimant, respondent)
            if self.submit(fn, e, w.arb):
                count = w.chain.disputes.functions.disputeCount().call()
                did = keccak(
                    abi_encode(
                        ["uint8", "bytes32", "uint256", "uint256", "bytes32", "uint256"],
                        [kind, sid, claimant, respondent, keccak(text="claim"), count],
                    )
                )
                m.open[did] = (aid, subject.id if subject else None)
                m.disputes[aid] += 1
            return
        did = data.draw(st.sampled_from(sorted(m.open)), label="dispute to close")
        aid, subject = m.open[did]
        void = subject is not None and data.draw(st.booleans(), label="award voids the agreement?")
        e = Expect(f"award {'voiding ' + hex32(subject)[:10] if void and subject else 'dismissing'} (asset {aid})")
        note(e.what)
        fn = dispute_close_fn(w.chain, w.arb, did, "agreement_voided" if void else "dismissed")
        if self.submit(fn, e, w.arb):
            del m.open[did]
            m.disputes[aid] -= 1
            self.frozen_since.pop(aid, None)  # an award may change title while another dispute keeps it frozen
            if void and subject is not None:
                self.void(m.deals[subject])

    def void(self, deal: Deal) -> None:
        """The award's effect: the agreement is voided; a transfer that made the standing title gives it back."""
        m = self.m
        if deal.status == ST.VOIDED:
            return
        deal.status = ST.VOIDED
        if deal.kind in (AK.ASSIGNMENT, AK.EQUITY_CONTRIBUTION) and deal.title_seq == m.title_seq[deal.asset]:
            m.owners[deal.asset] = deal.prior
            m.title_seq[deal.asset] = deal.prior_seq

    def operator_tries_a_dispute_effect(self, data: st.DataObject) -> None:
        """The relayer (or an arbitrator's own key) calls a dispute effect directly: always refused."""
        w = self.w
        aid = self.draw_asset(data)
        f = w.chain.assets.functions
        effect = data.draw(st.sampled_from(["freeze", "unfreeze", "restore", "void"]), label="effect")
        fn = {
            "freeze": f.freezeAsset(aid, keccak(text="no dispute")),
            "unfreeze": f.unfreezeAsset(aid, keccak(text="no dispute")),
            "restore": f.restoreTitle(aid, [w.pids[0]], [TOTAL], keccak(text="no dispute")),
            "void": f.voidAgreement(keccak(text="any"), keccak(text="no dispute")),
        }[effect]
        e = Expect(f"the operator calls {effect} on asset {aid} itself")
        note(e.what)
        e.fault("CallerNotDisputeRegistry")
        self.submit(fn, e, data.draw(st.sampled_from([w.chain.operator, w.arb]), label="caller"))

    def suspend_or_reinstate(self, data: st.DataObject) -> None:
        """The operator suspends a party or lifts a suspension. Mostly: reinstate who is suspended."""
        pid = data.draw(st.sampled_from(self.w.pids), label="party")
        usual = pid not in self.m.suspended
        suspend = usual if self.mostly(data, "the usual move?") else data.draw(st.booleans(), label="suspend")
        e = Expect(f"{'suspend' if suspend else 'reinstate'} {self.w.name(pid)}")
        note(e.what)
        evidence = self.w.chain.evidence.functions
        if suspend:
            if pid in self.m.suspended:
                e.fault("PartyAlreadySuspended")
            # governance suspends (confirmed: it does not lapse while time passes)
            if self.submit(evidence.suspendParty(pid, keccak(text="decision")), e, self.w.chain.governance):
                self.m.suspended.add(pid)
        else:
            if pid not in self.m.suspended:
                e.fault("PartyNotSuspended")
            if self.submit(evidence.reinstateParty(pid), e, self.w.chain.governance):
                self.m.suspended.discard(pid)

    @rule(days=st.sampled_from([1, 2, 3, 7, 30]))
    def time_passes(self, days: int) -> None:
        self.m.day += days
        note(f"time passes: {days} day(s), today={self.m.day}")
        self.w.travel_to(self.ts(self.m.day) + NOON)

    # --- invariants ---

    @invariant()
    def title_is_consistent(self) -> None:
        m, w = self.m, self.w
        f = w.chain.assets.functions
        latest = w.chain.w3.eth.get_block("latest")
        now, block = int(latest["timestamp"]), int(latest["number"])
        assert m.day * DAY + NOON <= now - self.origin < (m.day + 1) * DAY - 3600, "the chain left the model's day"
        statuses: dict[bytes, Any] = {}
        for deal in m.deals.values():
            if deal.kind in (AK.LICENCE, AK.PLEDGE):
                statuses[deal.id] = f.agreement(deal.id).call()
                expected = ST.ENDED_WITH_PARENT if m.ended_with_parent(deal) else deal.status
                assert statuses[deal.id][1] == expected, (
                    f"status of {hex32(deal.id)[:10]}: {statuses[deal.id][1]} != {expected}"
                )
        for aid in w.asset_ids:
            _, _, owners, shares, frozen = f.asset(aid).call()
            # shares always sum to 100%; owners are distinct and are who the model says
            assert sum(shares) == TOTAL and all(s > 0 for s in shares) and len(owners) == len(shares)
            assert len(set(owners)) == len(owners)
            assert (tuple(owners), tuple(shares)) == m.owners[aid], (
                f"asset {aid}: title {owners} {shares} != model {m.owners[aid]}"
            )
            assert frozen == m.frozen(aid)
            in_force = [bytes(x) for x in f.licencesInForce(aid, now).call()]
            assert len(set(in_force)) == len(in_force)
            assert set(in_force) == m.licences_in_force(aid), f"asset {aid}: licences in force differ from the model"
            pledge = bytes(f.pledgeInForce(aid, now).call())
            assert pledge == m.pledge_in_force(aid), (
                f"asset {aid}: pledge in force {hex32(pledge)} != model {hex32(m.pledge_in_force(aid))}"
            )
            # at most one pledge in force, judged from every pledge's own record on chain
            pledges = [
                d.id
                for d in m.pledges(aid)
                if statuses[d.id][1] == ST.EFFECTIVE and statuses[d.id][4] <= now < statuses[d.id][5]
            ]
            assert len(pledges) <= 1 and (pledges == [pledge] if pledges else pledge == ZERO32), (
                f"asset {aid}: pledges {pledges}"
            )
            # no two licences in force conflict (exclusive/sole vs anything overlapping; sublicence vs own parent exempt)
            scopes = [(i, statuses[i]) for i in in_force]
            for x, (a_id, a) in enumerate(scopes):
                assert a[8] == aid and a[0] == AK.LICENCE
                for b_id, b in scopes[x + 1 :]:
                    assert not conflicts(
                        a[2],
                        a_id,
                        bytes(a[11]),
                        (a[4], a[5], a[9], bytes(a[10])),
                        b[2],
                        b_id,
                        bytes(b[11]),
                        (b[4], b[5], b[9], bytes(b[10])),
                    ), f"asset {aid}: licences {hex32(a_id)[:10]} and {hex32(b_id)[:10]} in force overlap"
            # a frozen asset never changes owners nor gets a new agreement (no AgreementExecuted event since it froze)
            if frozen and aid in self.frozen_since:
                before_owners, since_block = self.frozen_since[aid]
                assert list(owners) == before_owners, f"frozen asset {aid} changed owners"
                if block > since_block:
                    executed = w.chain.assets.events.AgreementExecuted.get_logs(
                        from_block=since_block + 1, to_block=block, argument_filters={"assetId": aid}
                    )
                    assert not executed, f"frozen asset {aid} got a new agreement: {executed}"
            elif frozen:
                self.frozen_since[aid] = (list(owners), block)
            else:
                self.frozen_since.pop(aid, None)


def machine_settings(backend: str) -> settings:
    return settings(
        max_examples=EXAMPLES if backend == "anvil" else max(1, EXAMPLES // 3),
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_rules_of_title_hold_under_random_agreements(request: pytest.FixtureRequest, backend: str) -> None:
    chain: Chain = request.getfixturevalue(FIXTURES[backend])
    outer = chain.snapshot()
    try:
        TitleMachine.world = World(chain, backend)
        run_state_machine_as_test(TitleMachine, settings=machine_settings(backend))
    finally:
        TitleMachine.world = None
        chain.revert(outer)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("close", ["release", "terminate"])
def test_closing_an_ended_pledge_leaves_the_newer_pledge_in_force(
    request: pytest.FixtureRequest, close: str, backend: str
) -> None:
    """Closing a pledge that has ended, after a newer pledge took the asset, leaves the newer one encumbering it
    (found by the state machine: the slot used to be cleared unconditionally)."""
    chain: Chain = request.getfixturevalue(FIXTURES[backend])
    outer = chain.snapshot()
    try:
        w = World(chain, backend)
        by = {p.name: p for p in w.parties.values()}
        uni, bank, firm = by["uni-1"], by["bank"], by["firm-x"]
        aid, f = w.asset_ids[0], chain.assets.functions  # owned by uni-1 alone

        def pledge(start: int, end: int, salt: str) -> bytes:
            terms = ag.Terms(
                kind=AK.PLEDGE,
                asset_id=aid,
                grantees=(bank.pid,),
                start=start,
                end=end,
                salt=keccak(text=salt),
                deadline=chain.now() + 3600,
            )
            sigs = [(a.address, eip712.sign(terms.message(w.domain), a)) for a in (uni.acct, bank.acct)]
            chain.sender.send_call(f.execute(terms.as_tuple(), sigs))
            return terms.agreement_id(w.domain)

        now = chain.now()
        first = pledge(now, now + DAY, "first pledge, one day")
        w.travel_to(now + 2 * DAY)  # the first pledge has ended (still Effective as stored: expiry is not stored)
        now = chain.now()
        second = pledge(now, now + 30 * DAY, "second pledge, thirty days")
        assert f.pledgeInForce(aid, now).call() == second
        deadline = now + 3600
        if close == "release":
            sig = eip712.sign(ag.release_message(w.domain, first, deadline), bank.acct)
            chain.sender.send_call(f.releasePledge(first, deadline, (bank.acct.address, sig)))
        else:
            message = ag.termination_message(w.domain, first, deadline)
            sigs = [(a.address, eip712.sign(message, a)) for a in (uni.acct, bank.acct)]
            chain.sender.send_call(f.terminate(first, deadline, sigs))
        assert f.agreement(second).call()[1] == ST.EFFECTIVE
        assert f.pledgeInForce(aid, chain.now()).call() == second, "closing the ended pledge cleared the newer one"
        # ... and so the pledged asset could be assigned without the pledgee's signature
        assign = ag.Terms(
            kind=AK.ASSIGNMENT,
            asset_id=aid,
            grantees=(firm.pid,),
            shares=(TOTAL,),
            salt=keccak(text="assign"),
            deadline=chain.now() + 3600,
        )
        sigs = [(a.address, eip712.sign(assign.message(w.domain), a)) for a in (uni.acct, firm.acct)]
        with pytest.raises(ContractRevert) as err:
            chain.sender.send_call(f.execute(assign.as_tuple(), sigs))
        assert err.value.name == "AgreementSignatureMissing" and err.value.args_["partyId"] == bank.pid
    finally:
        chain.revert(outer)
