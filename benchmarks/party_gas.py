"""Gas of the party operations (docs/security.md "Key loss and recovery"): a party's own account changes
(1-of-1 and 2-of-3), a recovery proposed, vetoed and executed, a suspension and its confirmation. Reported beside
the gas rows of the main table; these operations have no target (they are rare acts, not the hot path).

    .venv/bin/python -m benchmarks.party_gas [--update docs/benchmarks.md]

Each figure is the receipt's ``gasUsed`` of one transaction. The registry's own functions run on a second
deployment of the suite on the same anvil whose governance and registrar are plain accounts (as the tests
deploy it), so that a governance act shows the registry's own cost; one more row shows what the council adds
when the same act goes through the Safe and the timelock of the embedded default (``ledger.chain.governance``).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from benchmarks.env import BenchChain
from ledger.chain.artifacts import load_artifact
from ledger.chain.sender import SentTransaction, TxSender
from ledger.domain import eip712

HEADING = "## Gas of party operations"
RECOVERY_DELAY = 3600
SUSPENSION_PERIOD = 7200
ROUNDS = 3


def _gas(sent: SentTransaction | str) -> int:
    assert isinstance(sent, SentTransaction)
    return sent.gas_used


class _Registry:
    """The suite deployed again on the bench's anvil with plain governance and registrar accounts."""

    def __init__(self, c: BenchChain) -> None:
        from ledger.chain.deployment import deploy_suite
        from ledger.chain.powers import dev_governance, dev_registrar

        self.c = c
        self.governance, self.registrar = dev_governance(), dev_registrar()
        for acct in (self.governance, self.registrar):
            c.fund(acct.address)
        manifest = deploy_suite(
            c.sender,
            registrar=self.registrar.address,
            governance=self.governance.address,
            recovery_delay=RECOVERY_DELAY,
            suspension_period=SUSPENSION_PERIOD,
        )
        self.address = manifest.address("EvidenceRegistry")
        self.contract = c.w3.eth.contract(address=self.address, abi=load_artifact("EvidenceRegistry")["abi"])
        self.domain = eip712.Domain(manifest.chain_id, self.address)
        self.gov, self.reg = TxSender(c.w3, self.governance), TxSender(c.w3, self.registrar)
        self._n = 0

    def admit(self, accounts: list[LocalAccount]) -> int:
        self._n += 1
        profile = (1, 1, 3, f"BENCH-PARTY-{self._n}", "基准测试参与方", "Bench party")
        self.reg.send_call(self.contract.functions.admitParty(profile, [a.address for a in accounts]))
        return int(self.contract.functions.partyCount().call())

    def change(
        self,
        party_id: int,
        action: str,
        signers: list[LocalAccount],
        *,
        account: str | None = None,
        new: LocalAccount | None = None,
        threshold: int,
    ) -> int:
        p = self.contract.functions.party(party_id).call()
        deadline = self.c.now() + 600
        target = new.address if action == "add" and new is not None else account
        msg = eip712.account_change_message(
            self.domain,
            party_id=party_id,
            action=action,
            account=target,
            new_account=new.address if action == "rotate" and new else None,
            threshold=threshold,
            nonce=int(p[7]),
            deadline=deadline,
        )
        sigs = sorted(((a.address, eip712.sign(msg, a)) for a in signers), key=lambda x: int(x[0], 16))
        joined = eip712.sign(msg, new) if new is not None else b""
        change = (
            party_id,
            eip712.ACCOUNT_ACTIONS[action],
            target or eip712.ZERO_ADDRESS,
            new.address if action == "rotate" and new else eip712.ZERO_ADDRESS,
            threshold,
            int(p[7]),
            deadline,
        )
        return _gas(self.c.sender.send_call(self.contract.functions.changeAccounts(change, sigs, joined)))


def _key(label: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"ipledger-bench:party-gas:{label}"))


def measure(c: BenchChain, rounds: int = ROUNDS) -> list[tuple[str, str, list[int]]]:
    """(operation, who sends it, gas of each round)."""
    r = _Registry(c)
    rows: dict[str, tuple[str, list[int]]] = {}

    def add(name: str, who: str, gas: int) -> None:
        rows.setdefault(name, (who, []))[1].append(gas)

    for i in range(rounds):
        # 1-of-1: the party's only account rotates to a new one (`ipledger keys rotate`)
        old, new = _key(f"solo-{i}"), _key(f"solo-new-{i}")
        solo = r.admit([old])
        add(
            "`changeAccounts` rotate, 1-of-1 (the old key and the new one sign)",
            "relayer",
            r.change(solo, "rotate", [old], account=old.address, new=new, threshold=1),
        )
        # 2-of-3: a party of three accounts with threshold 2 rotates one of them
        trio = [_key(f"trio-{i}-{j}") for j in range(3)]
        multi = r.admit(trio)
        add(
            "`changeAccounts` set threshold 2 of 3 (the party's threshold was 1: one signature)",
            "relayer",
            r.change(multi, "set_threshold", [trio[0]], threshold=2),
        )
        rotated = _key(f"trio-new-{i}")
        add(
            "`changeAccounts` rotate, 2-of-3 (two accounts and the new one sign)",
            "relayer",
            r.change(multi, "rotate", trio[:2], account=trio[2].address, new=rotated, threshold=2),
        )
        # recovery: proposed by governance, vetoed (relayed signature), proposed again, executed after the delay
        fresh = _key(f"recovered-{i}")
        add(
            "`proposeRecovery`",
            "governance",
            _gas(r.gov.send_call(r.contract.functions.proposeRecovery(solo, fresh.address))),
        )
        executable_at = int(r.contract.functions.pendingRecovery(solo).call()[1])
        veto = eip712.recovery_veto_message(
            r.domain, party_id=solo, new_account=fresh.address, executable_at=executable_at
        )
        add(
            "`vetoRecovery`, relayed with the account's EIP-712 signature",
            "relayer",
            _gas(c.sender.send_call(r.contract.functions.vetoRecovery(solo, new.address, eip712.sign(veto, new)))),
        )
        r.gov.send_call(r.contract.functions.proposeRecovery(multi, fresh.address))
        c.w3.provider.make_request("evm_increaseTime", [RECOVERY_DELAY + 1])  # type: ignore[arg-type]
        c.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        add(
            "`executeRecovery`, party of 3 accounts → 1",
            "anyone (relayer)",
            _gas(c.sender.send_call(r.contract.functions.executeRecovery(multi))),
        )
        # suspension: provisional by the registrar, confirmed by governance within the period
        add(
            "`suspendParty` (registrar, provisional)",
            "registrar",
            _gas(r.reg.send_call(r.contract.functions.suspendParty(solo, keccak(text=f"reason {i}")))),
        )
        add("`confirmSuspension`", "governance", _gas(r.gov.send_call(r.contract.functions.confirmSuspension(solo))))
    return [(name, who, gas) for name, (who, gas) in rows.items()]


def council_overhead(c: BenchChain) -> tuple[int, int, int]:
    """``confirmSuspension`` through the embedded default's council: the Safe transaction that schedules it in
    the timelock, and the timelock's execution after its delay (the registry call included)."""
    from ledger.chain import governance as gov
    from ledger.chain.powers import dev_registrar

    council = gov.dev_council()
    record = c.manifest.governance or {}
    timelock, safe = str(record["timelock"]), str(record["safe"])
    victim = _key("council-victim")
    party = c.admit([victim.address], "BENCH-COUNCIL-1")
    TxSender(c.w3, dev_registrar()).send_call(c.evidence.functions.suspendParty(party, keccak(text="council")))
    data = bytes.fromhex(str(c.evidence.encode_abi("confirmSuspension", [party]))[2:])
    p = gov.propose(
        c.w3, timelock, safe, target=c.evidence.address, data=data, description="bench: confirm a suspension"
    )
    for member in council[: int(gov.safe_contract(c.w3, safe).functions.getThreshold().call())]:
        p = gov.approve(c.w3, p, member)
    payer = c.sender
    scheduled = gov.execute(payer, p)
    schedule_gas = int(c.w3.eth.get_transaction_receipt(scheduled["transactionHash"])["gasUsed"])
    delay = int(gov.timelock_contract(c.w3, timelock).functions.getMinDelay().call())
    c.w3.provider.make_request("evm_increaseTime", [delay + 1])  # type: ignore[arg-type]
    c.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    executed = gov.execute(payer, p)
    execute_gas = int(c.w3.eth.get_transaction_receipt(executed["transactionHash"])["gasUsed"])
    return schedule_gas, execute_gas, delay


def render(rows: list[tuple[str, str, list[int]]], council: tuple[int, int, int] | None) -> str:
    lines = [
        HEADING,
        "",
        "Receipts' `gasUsed`, mean of the rounds (generated by `python -m benchmarks.party_gas`, also run by "
        "`make bench`). No targets: these are rare acts of a party or of governance. Governance acts are shown as "
        "the registry's own call (a deployment whose governance is a plain account, as the tests deploy it); the "
        "last rows show what the embedded default's council adds around such a call.",
        "",
        "| operation | sent by | gas | rounds |",
        "|---|---|---|---|",
    ]
    for name, who, gas in rows:
        lines.append(f"| {name} | {who} | {statistics.mean(gas):,.0f} | {', '.join(f'{g:,}' for g in gas)} |")
    if council is not None:
        schedule, execute, delay = council
        lines += [
            f"| `confirmSuspension` through the council: the Safe transaction that schedules it (2 of 3 owners' "
            f"signatures) | any payer | {schedule:,} | {schedule:,} |",
            f"| … and the timelock's `execute` after its {delay}-second delay (the registry call included) | anyone "
            f"| {execute:,} | {execute:,} |",
        ]
    return "\n".join(lines) + "\n"


def update(doc: Path, section: str) -> None:
    """Replaces the section in ``doc``, or inserts it after the "Gas by category" section (where `make bench`
    writes it), else at the end."""
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(HEADING) + r"\n.*?(?=\n## |\Z)", re.S)
    after = re.search(r"\n## Gas by category.*?(?=\n## |\Z)", text, re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section.rstrip("\n") + "\n", text, count=1)
    elif after is not None:
        text = text[: after.end()].rstrip("\n") + "\n\n" + section + text[after.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.party_gas", description=__doc__.splitlines()[0])
    parser.add_argument("--update", type=Path, help="write the section into this markdown file (docs/benchmarks.md)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    with BenchChain.start() as chain:
        council = council_overhead(chain)
        section = render(measure(chain, args.rounds), council)
    print(section)
    if args.update:
        update(args.update, section)
        print(f"wrote {args.update}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
