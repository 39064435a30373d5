"""``ipledger dispute open|award|show|case-file`` (an arbitration institution, by its arbitrators' keystores) and
the top-level ``ipledger verify-case``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    ApiUrlOpt,
    JsonResultOpt,
    JsonWordsOpt,
    RpcUrlOpt,
    api_client,
    console,
    hash_or_file,
    load_party_keys,
    print_json,
    report,
    settings_with,
)
from cli.render import PartyLabels, local_time
from ledger.domain import eip712
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Disputes before an arbitration institution: its arbitrators sign with their keystores "
    "(at least two, or the institution's threshold), one --keystore each.",
    no_args_is_help=True,
)

ArbitratorKeystoresOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--keystore",
        help="An arbitrator account's keystore (v3 JSON); repeat once per arbitrator who signs: "
        "the institution acts by at least max(its threshold, 2) of its accounts. Password from "
        "IPLEDGER_KEYSTORE_PASSWORD or a prompt. Env: IPLEDGER_KEYSTORE (one).",
    ),
]


InstitutionSafeOpt = Annotated[
    str | None,
    typer.Option(
        "--safe",
        help="Act through the institution's Safe multisig account at this address instead: each --keystore is an "
        "owner of the Safe (repeat up to its threshold), and the Safe's signature (ERC-1271) is the act.",
    ),
]


def _arbitrators(keystores: list[Path] | None, client: Any, safe: str | None = None) -> tuple[list[Any], int]:
    """The signing accounts and their institution (the party of the first; the API and the contract check
    that every signer is an account of it). With ``safe``: the institution's Safe account alone, signed by its
    owners (the keystores), which the contract accepts under ERC-1271 as the institution's act."""
    if safe is not None:
        from cli.common import party_signer

        accounts = [party_signer(keystores, safe, lambda: int(client.get("/v1/signing-domain")["chainId"]))]
    else:
        accounts = load_party_keys(keystores)
    institution = client.get(f"/v1/accounts/{accounts[0].address}")["partyId"]
    if not institution:
        raise InvalidInput(f"{accounts[0].address} is not an account of an admitted party", field="keystore")
    return accounts, int(institution)


def _sign_all(typed: dict[str, Any], accounts: list[Any]) -> list[dict[str, str]]:
    return [{"signer": a.address, "signature": "0x" + eip712.sign(typed, a).hex()} for a in accounts]


def _hash_arg(value: str, option: str) -> str:
    path = Path(value)
    if path.is_file():
        return hash_or_file(value, option)
    return value


@app.command("open")
def open_cmd(
    subject: Annotated[str, typer.Argument(help="asset | agreement | evidence")],
    subject_id: Annotated[str, typer.Argument(help="Asset id, agreement id, or content hash.")],
    claimant: Annotated[int, typer.Option(help="Claimant party id.")],
    respondent: Annotated[int, typer.Option(help="Respondent party id.")],
    claim: Annotated[str, typer.Option(help="The statement of claim: a file (hashed locally) or its hash.")],
    keystore: ArbitratorKeystoresOpt = None,
    safe: InstitutionSafeOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Open a dispute (freezes the asset concerned) as the arbitration institution, signed with its arbitrators'
    keystores (one --keystore each)."""
    claim_hash = _hash_arg(claim, "--claim")  # hashed (or refused) before anything is sent
    client = api_client(settings_with(api_url=api_url))
    accounts, institution = _arbitrators(keystore, client, safe)
    body = {
        "subject": subject,
        "subjectId": int(subject_id) if subject == "asset" and subject_id.isdigit() else subject_id,
        "claimant": claimant,
        "respondent": respondent,
        "claimHash": claim_hash,
        "institution": institution,
    }
    typed = client.post("/v1/disputes/payload", json=body)["typedData"]
    result = client.post(
        "/v1/disputes",
        json={**body, "deadline": typed["message"]["deadline"], "signatures": _sign_all(typed, accounts)},
    )
    report(_dispute_lines(client, result), result, as_json)


@app.command("award")
def award_cmd(
    dispute_id: Annotated[str, typer.Argument(help="The dispute id.")],
    outcome: Annotated[str, typer.Option(help="dismissed | agreement_voided | title_restored")],
    award: Annotated[str, typer.Option(help="The award document: a file (hashed locally) or its hash.")],
    owner: Annotated[
        list[str] | None, typer.Option(help="For title_restored: PARTY_ID:SHARE_BPS, repeatable (sum 10000).")
    ] = None,
    keystore: ArbitratorKeystoresOpt = None,
    safe: InstitutionSafeOpt = None,
    as_json: JsonResultOpt = False,
    api_url: ApiUrlOpt = None,
) -> None:
    """Close a dispute with an award that takes effect on chain, as the institution, signed with its arbitrators'
    keystores (one --keystore each)."""
    owners = []
    for item in owner or []:
        party, _, share = item.partition(":")
        if not party.isdigit() or not share.isdigit():
            raise InvalidInput(f"--owner takes PARTY_ID:SHARE_BPS, not {item!r}", field="owner")
        owners.append({"partyId": int(party), "share": int(share)})
    award_hash = _hash_arg(award, "--award")  # hashed (or refused) before anything is sent
    client = api_client(settings_with(api_url=api_url))
    accounts, institution = _arbitrators(keystore, client, safe)
    body = {"outcome": outcome, "awardHash": award_hash, "owners": owners, "institution": institution}
    typed = client.post(f"/v1/disputes/{dispute_id}/award/payload", json=body)["typedData"]
    result = client.post(
        f"/v1/disputes/{dispute_id}/award",
        json={**body, "deadline": typed["message"]["deadline"], "signatures": _sign_all(typed, accounts)},
    )
    report(_dispute_lines(client, result), result, as_json)


def _dispute_lines(client: Any, dispute: dict[str, Any]) -> list[str]:
    """A dispute in words: who against whom, before which institution, its subject, its status and times."""
    parties = PartyLabels(client)
    lines = [
        f"dispute {dispute['disputeId']} is {dispute.get('status')}"
        + (f": {str(dispute['outcome']).replace('_', ' ')}" if dispute.get("outcome") else ""),
        f"before: {parties.label(dispute['institution'])}",
        f"claimant: {parties.label(dispute['claimant'])}; respondent: {parties.label(dispute['respondent'])}",
        f"subject: {dispute.get('subject')} {dispute.get('subjectId')}",
        f"opened: {local_time(dispute.get('openedAt'))}",
    ]
    if dispute.get("closedAt"):
        lines.append(f"closed: {local_time(dispute['closedAt'])}")
    if dispute.get("assetId") is not None:
        frozen = dispute.get("status") == "open"
        lines.append(f"asset {dispute['assetId']} is {'frozen until the award' if frozen else 'no longer frozen'}")
    if dispute.get("transactionHash"):
        lines.append(f"transaction: {dispute['transactionHash']}")
    return lines


@app.command("show")
def show_cmd(dispute_id: str, as_json: JsonWordsOpt = False, api_url: ApiUrlOpt = None) -> None:
    """Show a dispute: its parties, subject, status and times, in words (the API's JSON with --json)."""
    client = api_client(settings_with(api_url=api_url))
    dispute = client.get(f"/v1/disputes/{dispute_id}")
    if as_json:
        print_json(dispute)
        return
    for line in _dispute_lines(client, dispute):
        console.print(line, highlight=False, markup=False)


@app.command("case-file")
def case_file_cmd(
    dispute_id: str,
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the ZIP.")] = Path("case.zip"),
    api_url: ApiUrlOpt = None,
) -> None:
    """Export the case file: every on-chain record about the subject, with certificates and a summary PDF."""
    data = api_client(settings_with(api_url=api_url)).get(f"/v1/disputes/{dispute_id}/case-file")
    out.write_bytes(data)
    console.print(f"case file written to {out} ({len(data):,} bytes)")


def verify_case_cmd(
    case: Annotated[Path, typer.Argument(help="The case file ZIP.")],
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Re-check every item of a case file against any JSON-RPC endpoint of the chain. Exit 0 if all pass."""
    from ledger.certificates.casefile import verify_case
    from ledger.certificates.verify import Rpc
    from ledger.chain.rpc import connect

    settings = settings_with(rpc_url=rpc_url)
    if not settings.rpc_url:
        raise InvalidInput("--rpc-url is required", field="rpc_url")
    if not case.is_file():
        raise InvalidInput(f"{case} is not a readable file", field="case")
    from ledger.certificates.casefile import MAX_CASE_BYTES
    from ledger.storage.files import read_bounded

    data = read_bounded(case, MAX_CASE_BYTES, field="case", what="a case file")
    report = verify_case(data, Rpc.from_web3(connect(settings.rpc_url)))
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    for name, r in report.items:
        mark = "[green]✓[/]" if r.passed else "[red]✗[/]"
        failed = "; ".join(c.detail for c in r.checks if c.status == "failed")
        console.print(f"{mark} {name}" + (f" — {failed}" if failed else ""), highlight=False)
    console.print("[green]CASE VERIFIED[/]" if report.passed else "[red]CASE NOT VERIFIED[/]")
    raise typer.Exit(0 if report.passed else 1)
