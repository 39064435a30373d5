"""``ipledger governance propose|approve|execute|status|cancel``: the consortium council acting through its timelock
(docs/security.md "Governance", library in :mod:`ledger.chain.governance`).

A proposal is a JSON file passed between council members: the first member writes it (and signs), each other
member adds their signature with their own keystore, anyone executes it once the Safe's threshold is met (the
operation is scheduled in the timelock), and anyone executes it again after the timelock's delay. Every step
re-reads the Safe and the timelock from the chain; the service's API is asked only for addresses, and holds no
key of the council.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import (
    AccountsOpt,
    ApiUrlOpt,
    IdentifierOpt,
    JsonResultOpt,
    JsonWordsOpt,
    JurisdictionOpt,
    NameEnOpt,
    NameZhOpt,
    RpcUrlOpt,
    SchemeOpt,
    api_client,
    console,
    err_console,
    keystore_password,
    print_json,
    report,
    settings_with,
)
from cli.render import local_time, span
from ledger.config import Settings
from ledger.errors import ConfigurationError, ContractRevert, InvalidInput, KeystoreError, TransactionFailed

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from ledger.chain import governance as gov
else:

    class _Governance:
        """ledger.chain.governance, imported when a command first uses it: web3 is not loaded for every
        `ipledger` command (the CLI's start-up time)."""

        def __getattr__(self, name: str) -> Any:
            from ledger.chain import governance

            return getattr(governance, name)

    gov = _Governance()

app = typer.Typer(
    help="The council's acts through the governance timelock: propose, approve, execute.", no_args_is_help=True
)
propose_app = typer.Typer(help="Write a proposal file (and sign it) for an act of governance.", no_args_is_help=True)
app.add_typer(propose_app, name="propose")

KeystoreOpt = Annotated[Path | None, typer.Option("--keystore", help="Your council member keystore (v3 JSON).")]
DevMemberOpt = Annotated[
    int | None,
    typer.Option(
        "--dev-member",
        min=1,
        max=3,
        help="Sign with the embedded "
        "default's council member 1, 2 or 3 (public anvil keys 9-11; development chain only).",
    ),
]
OutOpt = Annotated[Path, typer.Option("-o", "--out", help="Where to write the proposal file (never overwritten).")]
WAIT_LIMIT = 3600.0


def _w3(settings: Settings) -> Web3:
    from ledger.chain.rpc import connect

    return connect(settings.rpc_url or f"http://127.0.0.1:{settings.node_port}")


def _signer(settings: Settings, w3: Web3, keystore: Path | None, dev_member: int | None) -> LocalAccount:
    from ledger.chain.node import DEV_CHAIN_ID
    from ledger.storage.keys import load_keystore

    if keystore is not None and dev_member is not None:
        raise InvalidInput("give --keystore or --dev-member, not both", field="keystore")
    if dev_member is not None:
        if int(w3.eth.chain_id) != DEV_CHAIN_ID:
            raise ConfigurationError(
                f"--dev-member is only for a development chain (id {DEV_CHAIN_ID})", field="dev_member"
            )
        return gov.dev_council()[dev_member - 1]
    if keystore is None:
        raise KeystoreError(
            "a council member's keystore is needed: --keystore PATH (or --dev-member N on the development chain)",
            field="keystore",
        )
    return load_keystore(keystore, keystore_password(settings, keystore))


def _addresses(settings: Settings) -> tuple[str, str, str]:
    """The timelock, the council Safe and the evidence (party) registry, as the service's /v1/powers names them."""
    powers = api_client(settings).get("/v1/powers")
    g = powers.get("governance") or {}
    safes = [p for p in g.get("proposers") or [] if p.get("kind") == "Safe"]
    if g.get("kind") != "TimelockController" or len(safes) != 1:
        raise ConfigurationError(
            "this deployment's governance is not a timelock with one council Safe as proposer (GET /v1/powers)",
            field="governance",
        )
    return str(g["address"]), str(safes[0]["address"]), str(powers["contracts"]["EvidenceRegistry"]["address"])


def _new_proposal(
    settings: Settings,
    out: Path,
    keystore: Path | None,
    dev_member: int | None,
    description: str,
    build: Any,
    as_json: bool,
) -> None:
    if out.exists():
        raise InvalidInput(f"{out} exists; a proposal file is never overwritten", field="out")
    w3 = _w3(settings)
    signer = _signer(settings, w3, keystore, dev_member)
    timelock, safe, evidence = _addresses(settings)
    target, data = build(w3, evidence)
    proposal = gov.propose(
        w3, timelock, safe, target=target, data=bytes.fromhex(data.removeprefix("0x")), description=description
    )
    gov.approve(w3, proposal, signer)
    proposal.save(out)
    st = gov.status(w3, proposal)
    report(
        [f"proposal written to {out}: {st['description']}", *_state_lines(st, out)],
        {"proposal": str(out), **st},
        as_json,
    )


def _registry_call(name: str, *args: Any) -> Any:
    from ledger.chain.artifacts import load_artifact

    def build(w3: Web3, evidence: str) -> tuple[str, str]:
        from web3 import Web3

        c = w3.eth.contract(address=Web3.to_checksum_address(evidence), abi=load_artifact("EvidenceRegistry")["abi"])
        return evidence, str(c.encode_abi(name, list(args)))

    return build


@propose_app.command("admit")
def propose_admit(
    kind: Annotated[str, typer.Option(help="arbitration_institution | financial_institution | asset_verifier")],
    identifier: IdentifierOpt,
    account: AccountsOpt,
    out: OutOpt,
    jurisdiction: JurisdictionOpt = "mainland",
    scheme: SchemeOpt = "uscc",
    name_zh: NameZhOpt = "",
    name_en: NameEnOpt = "",
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Propose admitting a party of a kind that carries power (the registrar admits the others)."""
    from ledger.domain.parties import MAX_ACCOUNTS, PartyProfile, parse_account

    if kind == "individual":
        raise InvalidInput(
            "a natural person is admitted by the registrar (`ipledger party admit --kind individual`), whose service "
            "keeps the identity off chain; governance admits the kinds that carry power",
            field="kind",
        )
    profile = PartyProfile(kind, jurisdiction, scheme, identifier, name_zh, name_en).validated()
    accounts = [parse_account(a, f"account[{i}]") for i, a in enumerate(account[: MAX_ACCOUNTS + 1])]
    if not accounts or len(accounts) > MAX_ACCOUNTS:
        raise InvalidInput(f"a party has 1 … {MAX_ACCOUNTS} accounts", field="account")
    settings = settings_with(api_url=api_url, rpc_url=rpc_url)
    _new_proposal(
        settings,
        out,
        keystore,
        dev_member,
        f"admit {profile.kind} {profile.identifier}",
        _registry_call("admitParty", profile.as_tuple(), accounts),
        as_json,
    )


@propose_app.command("confirm-suspension")
def propose_confirm_suspension(
    party_id: int,
    out: OutOpt,
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Propose confirming a registrar's provisional suspension (else it lapses)."""
    settings = settings_with(api_url=api_url, rpc_url=rpc_url)
    _new_proposal(
        settings,
        out,
        keystore,
        dev_member,
        f"confirm the suspension of party {party_id}",
        _registry_call("confirmSuspension", party_id),
        as_json,
    )


@propose_app.command("reinstate")
def propose_reinstate(
    party_id: int,
    out: OutOpt,
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Propose lifting a confirmed or lapsed suspension."""
    settings = settings_with(api_url=api_url, rpc_url=rpc_url)
    _new_proposal(
        settings,
        out,
        keystore,
        dev_member,
        f"reinstate party {party_id}",
        _registry_call("reinstateParty", party_id),
        as_json,
    )


@propose_app.command("recovery")
def propose_recovery(
    party_id: int,
    new_account: Annotated[
        str,
        typer.Option(
            "--new-account",
            help="The account that "
            "replaces every account of the party after the recovery delay, unless the party vetoes.",
        ),
    ],
    out: OutOpt,
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Propose a key recovery for a party that lost every key (then its own public delay and veto apply)."""
    from ledger.domain.parties import parse_account

    new = parse_account(new_account, "new_account")
    settings = settings_with(api_url=api_url, rpc_url=rpc_url)
    _new_proposal(
        settings,
        out,
        keystore,
        dev_member,
        f"recover party {party_id} to {new}",
        _registry_call("proposeRecovery", party_id, new),
        as_json,
    )


@propose_app.command("call")
def propose_call(
    target: Annotated[str, typer.Option("--target", help="The contract the timelock calls.")],
    data: Annotated[
        str,
        typer.Option("--data", help="The calldata (hex), e.g. as a 403 'needs governance' answer of the API names it."),
    ],
    description: Annotated[str, typer.Option("--description", help="What the act is, for the council.")],
    out: OutOpt,
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Propose any call by the timelock (role grants, or a call the API prepared)."""
    from ledger.domain.parties import parse_account

    to = parse_account(target, "target")
    if len(data) > 200_000:
        raise InvalidInput("the calldata is longer than 100 kB", field="data")
    try:
        bytes.fromhex(data.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("the calldata is not hex", field="data") from None
    settings = settings_with(api_url=api_url, rpc_url=rpc_url)
    _new_proposal(settings, out, keystore, dev_member, description[:500], lambda _w3, _ev: (to, data), as_json)


@app.command("cancel")
def governance_cancel(
    proposal: Annotated[Path, typer.Argument(help="The proposal whose scheduled operation to cancel.")],
    out: OutOpt,
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Write (and sign) a proposal that cancels a scheduled operation before it runs."""
    if out.exists():
        raise InvalidInput(f"{out} exists; a proposal file is never overwritten", field="out")
    settings = settings_with(rpc_url=rpc_url)
    w3 = _w3(settings)
    signer = _signer(settings, w3, keystore, dev_member)
    cancel = gov.propose_cancel(w3, gov.Proposal.load(proposal))
    gov.approve(w3, cancel, signer)
    cancel.save(out)
    st = gov.status(w3, cancel)
    report(
        [f"proposal written to {out}: {st['description']}", *_state_lines(st, out)],
        {"proposal": str(out), **st},
        as_json,
    )


@app.command("approve")
def governance_approve(
    proposal: Annotated[Path, typer.Argument(help="The proposal file; your signature is added to it.")],
    keystore: KeystoreOpt = None,
    dev_member: DevMemberOpt = None,
    as_json: JsonResultOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Sign a proposal as a council member (checked against the chain first: the Safe's own transaction hash)."""
    settings = settings_with(rpc_url=rpc_url)
    w3 = _w3(settings)
    signer = _signer(settings, w3, keystore, dev_member)
    p = gov.approve(w3, gov.Proposal.load(proposal), signer)
    p.save(proposal)
    st = gov.status(w3, p)
    report([f"signed by {signer.address}", *_state_lines(st, proposal)], st, as_json)


@app.command("execute")
def governance_execute(
    proposal: Annotated[Path, typer.Argument(help="The proposal file.")],
    keystore: Annotated[
        Path | None, typer.Option("--keystore", help="Pays the gas (any account; executing adds no power).")
    ] = None,
    dev_member: DevMemberOpt = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="If the operation is scheduled, wait for its delay (at most an hour) and run it."),
    ] = False,
    as_json: JsonResultOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """The proposal's next step: schedule it (once the Safe's threshold signed), or run it (after the delay)."""
    from ledger.chain.sender import TxSender

    settings = settings_with(rpc_url=rpc_url)
    w3 = _w3(settings)
    sender = TxSender(w3, _signer(settings, w3, keystore, dev_member))
    p = gov.Proposal.load(proposal)
    now = gov.status(w3, p)  # asked once: a second look could see the delay run out in between
    result = gov.execute(sender, p) if now["state"] != "waiting" else now
    if wait and result["state"] == "waiting":
        deadline = time.monotonic() + WAIT_LIMIT
        while time.monotonic() < deadline:
            st = gov.status(w3, p)
            if st["state"] != "waiting":
                break
            err_console.print(
                f"waiting for the timelock: runs at {local_time(st['readyAt'])}, "
                f"in {span(int(st['readyAt']) - int(st['chainTime']))} of chain time",
                highlight=False,
            )
            time.sleep(min(5.0, max(1.0, st["readyAt"] - st["chainTime"])))
        for attempt in range(5):  # the node's next block may carry a time a second behind the clock: retry briefly
            try:
                result = gov.execute(sender, p)
                break
            except (ContractRevert, TransactionFailed):
                if attempt == 4:
                    raise
                time.sleep(1.0)
    elif result["state"] == "waiting" and "step" not in result:
        raise InvalidInput(
            f"scheduled; the timelock runs it at {local_time(result['readyAt'])} "
            f"(in {span(int(result['readyAt']) - int(result['chainTime']))} of chain time); "
            "run again then, or with --wait",
            field="proposal",
        )
    lines = [f"{result['step']} (transaction {result.get('transactionHash')})"] if result.get("step") else []
    report(lines + _state_lines(result, proposal), result, as_json)


@app.command("status")
def governance_status(
    proposal: Annotated[Path, typer.Argument(help="The proposal file.")],
    as_json: JsonWordsOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Where a proposal stands, read from the chain, in words (the JSON with --json)."""
    w3 = _w3(settings_with(rpc_url=rpc_url))
    st = gov.status(w3, gov.Proposal.load(proposal))
    if as_json:
        print_json(st)
        return
    for line in [f"proposal {proposal}: {st['description']}", *_state_lines(st, proposal)]:
        console.print(line, highlight=False, markup=False)


def _state_lines(st: dict[str, Any], path: Path) -> list[str]:
    """Where a proposal stands, in words, with the next step (times in local time)."""
    state = st["state"]
    ready_at = st.get("readyAt")
    words = {
        "collecting": f"{st.get('validSignatures')} of {st.get('threshold')} council signatures; another member "
        f"signs with `ipledger governance approve {path}`",
        "ready-to-schedule": f"enough signatures: `ipledger governance execute {path}` schedules it",
        "waiting": f"scheduled; the timelock runs it at {local_time(ready_at)}"
        + (f" (in {span(int(ready_at) - int(st['chainTime']))} of chain time)" if ready_at else "")
        + f": `ipledger governance execute {path} --wait`",
        "ready": f"the delay has passed: `ipledger governance execute {path}` runs it",
        "done": "executed",
        "cancelled": "cancelled before it ran",
        "stale": "stale: the council's Safe has moved on (the act was cancelled or replaced)",
    }
    return [f"state: {state} — {words.get(state, state)}", f"operation: {st.get('operationId')}"]
