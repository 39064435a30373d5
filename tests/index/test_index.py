"""The event indexer on the session anvil: a scenario is indexed and queried, a rebuild from an empty
database answers the same, and a reorganisation leaves no row of the orphaned blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Engine, select
from web3 import Web3

from ledger.chain.artifacts import load_artifact
from ledger.chain.node import free_port
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.errors import InvalidInput
from ledger.facade import Ledger
from ledger.index import schema
from ledger.index.queries import encode_cursor
from ledger.index.sync import Indexer
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import Parties, agree, api_verifier, confirm_asset, register_asset
from tests.helpers import account, h

QUERIES: list[tuple[str, dict[str, str]]] = [
    ("evidence", {}),
    ("evidence", {"kind": "batch"}),
    ("evidence", {"kind": "single"}),
    ("evidence", {"party": "2"}),
    ("evidence", {"limit": "3"}),
    ("assets", {}),
    ("assets", {"owner": "1"}),
    ("assets", {"number": "201710601862.3"}),
    ("assets", {"jurisdiction": "CN"}),
    ("agreements", {}),
    ("agreements", {"type": "licence"}),
    ("agreements", {"party": "3"}),
    ("agreements", {"status": "effective"}),
    ("disputes", {}),
]


def mine(api: Api, n: int = 1) -> None:
    for _ in range(n):
        api.chain.w3.provider.make_request("evm_mine", [])


def scenario(api: Api) -> dict[str, Any]:
    """Six parties and an asset verifier, two assets (confirmed), a licence, an assignment, two single registrations and a batch of five."""
    p = Parties(api)
    a = register_asset(api, p.uni, p.p_uni, "201710601862.3", "一种数据存证方法")
    b = register_asset(api, p.uni, p.p_uni, "201910000003.8", "Sensor array")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": now,
            "end": now + 86400 * 365,
            "royalty": {"basis": "lump_sum", "amount": "1", "currency": "CNY"},
        },
        p.uni,
        p.y,
    )
    assign = agree(
        api, {"kind": "assignment", "assetId": a, "assignees": [{"partyId": p.p_x, "share": 10_000}]}, p.uni, p.x
    )
    singles = [hash_bytes(f"single {i}".encode(), HashAlgorithm.SHA256) for i in range(2)]
    for content in singles:
        resp = api.client.post("/v1/evidence", json=api.single_body(p.x, content))
        assert resp.status_code == 202, resp.text
        api.ledger.pipeline.drain()
    batch = [h(f"batch item {i}") for i in range(5)]
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(p.y, batch))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    mine(api, api.ledger.settings.confirmations)
    return {
        "p": p,
        "a": a,
        "b": b,
        "licence": lic["agreementId"],
        "assignment": assign["agreementId"],
        "singles": singles,
        "batch": batch,
    }


def indexer_of(ledger: Ledger, engine: Engine) -> Indexer:
    """An indexer of ``ledger``'s deployment on ``engine``, wired as the facade wires its own."""
    return Indexer(ledger.w3, ledger.manifest, ledger.settings, engine, journal=lambda: ledger.store)


def answers(indexer: Indexer) -> list[dict[str, Any]]:
    return [indexer.query(what, dict(params)) for what, params in QUERIES]


def test_a_scenario_is_indexed_and_a_rebuild_from_empty_answers_the_same(api: Api) -> None:
    s = scenario(api)
    indexer = api.ledger.index
    progress: list[tuple[int, int]] = []
    indexer.sync(progress=lambda done, total: progress.append((done, total)))
    assert progress and progress[-1][0] == progress[-1][1]
    p = s["p"]

    ev = indexer.query("evidence", {})["items"]
    assert {e["binding"] for e in ev} == {"0x" + api.binding(p.x, c).hex() for c in s["singles"]} | {
        "0x" + api.binding(p.y, c).hex() for c in s["batch"]
    }
    batch_items = indexer.query("evidence", {"kind": "batch"})["items"]
    assert len(batch_items) == 5 and {e["partyId"] for e in batch_items} == {p.p_y} and batch_items[0]["batchRoot"]
    assert {e["partyId"] for e in indexer.query("evidence", {"party": str(p.p_x)})["items"]} == {p.p_x}
    assert len(indexer.query("evidence", {"party": str(p.p_x)})["items"]) == 2

    assets = indexer.query("assets", {})["items"]
    assert [x["assetId"] for x in assets] == [s["b"], s["a"]]
    by_a = {x["assetId"]: x for x in assets}
    assert by_a[s["a"]]["owners"] == [{"partyId": p.p_x, "share": 10_000}]  # after the assignment
    verifier = api_verifier(api)[1]
    assert {(x["status"], x["verifierPartyId"]) for x in assets} == {("confirmed", verifier)}
    assert indexer.query("assets", {"status": "claimed"})["items"] == []
    assert [x["assetId"] for x in indexer.query("assets", {"owner": str(p.p_uni)})["items"]] == [s["b"]]
    assert [x["assetId"] for x in indexer.query("assets", {"number": "CN201710601862.3"})["items"]] == [s["a"]]
    assert [
        x["assetId"] for x in indexer.query("assets", {"number": "201710601862.3", "jurisdiction": "cn"})["items"]
    ] == [s["a"]]

    licences = indexer.query("agreements", {"type": "licence"})["items"]
    assert [x["agreementId"] for x in licences] == [s["licence"]]
    assert {(m["partyId"], m["role"]) for m in licences[0]["parties"]} == {(p.p_uni, "licensor"), (p.p_y, "licensee")}
    assert [x["agreementId"] for x in indexer.query("agreements", {"party": str(p.p_x)})["items"]] == [s["assignment"]]
    assert [x["agreementId"] for x in indexer.query("agreements", {"asset": str(s["b"])})["items"]] == [s["licence"]]
    t = licences[0]["time"]
    assert indexer.query("agreements", {"from": str(t + 10_000)})["items"] == []

    # pagination: stable cursors walk every row exactly once
    seen, cursor = [], None
    while True:
        page = indexer.query("evidence", {"limit": "2", **({"cursor": cursor} if cursor else {})})
        seen += [e["binding"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [e["binding"] for e in ev]

    before = answers(indexer)
    indexer.rebuild()
    assert answers(indexer) == before
    status = indexer.status()
    assert status["counts"]["evidence"] == 7 and status["counts"]["parties"] == 7 and status["behind"] == 0


def test_claims_and_the_verifiers_decisions_are_indexed(api: Api) -> None:
    """A registration is indexed as a claim; a confirmation and a rejection change its status and name the
    verifier; the status filter finds each."""
    p = Parties(api)
    claim = register_asset(api, p.x, p.p_x, "201710601862.3", "Squatted", confirm=False)
    mine(api, api.ledger.settings.confirmations)
    indexer = api.ledger.index
    indexer.sync()
    (row,) = indexer.query("assets", {})["items"]
    assert (row["status"], row["verifierPartyId"]) == ("claimed", None) and "not yet confirmed" in row["statusNote"]
    assert confirm_asset(api, claim, reject=True).status_code == 200
    mine_ = register_asset(
        api, p.uni, p.p_uni, "201710601862.3", "Rightful"
    )  # the number, freed, claimed again and confirmed
    mine(api, api.ledger.settings.confirmations)
    indexer.sync()
    verifier = api_verifier(api)[1]
    by_status = {
        st: [(x["assetId"], x["verifierPartyId"]) for x in indexer.query("assets", {"status": st})["items"]]
        for st in ("claimed", "confirmed", "struck")
    }
    assert by_status == {"claimed": [], "confirmed": [(mine_, verifier)], "struck": [(claim, verifier)]}
    assert [
        x["assetId"] for x in indexer.query("assets", {"number": "CN201710601862.3", "status": "confirmed"})["items"]
    ] == [mine_]


def test_bad_filters_name_the_field(api: Api) -> None:
    indexer = api.ledger.index
    for what, params, field in [
        ("evidence", {"colour": "red"}, "colour"),
        ("evidence", {"cursor": "!!not-base64"}, "cursor"),
        ("evidence", {"cursor": encode_cursor([1, 2])}, "cursor"),
        ("evidence", {"from": "200", "to": "100"}, "from"),
        ("evidence", {"limit": "501"}, "limit"),
        ("evidence", {"limit": "0"}, "limit"),
        ("evidence", {"kind": "x"}, "kind"),
        ("evidence", {"party": "abc"}, "party"),
        ("agreements", {"status": "pending"}, "status"),
        ("assets", {"jurisdiction": "US"}, "jurisdiction"),
        ("assets", {"status": "pending"}, "status"),
        ("disputes", {"from": "1"}, "from"),
    ]:
        with pytest.raises(InvalidInput) as err:
            indexer.query(what, params)
        assert err.value.field == field, (what, params, err.value.message)


def test_a_binding_copied_by_another_party_is_indexed_as_its_own_row_beside_the_original(api: Api) -> None:
    """A copy of a party's binding recorded by another party (a front-runner's) is another record on chain; the
    index keeps both rows, each under its party."""
    first, second = account("index-original"), account("index-copier")
    p1 = api.chain.admit([first.address])
    p2 = api.chain.admit([second.address])
    binding = api.binding(first, h("copied"))
    api.chain.register(second, binding)
    api.chain.register(first, binding)
    mine(api, api.ledger.settings.confirmations)
    api.ledger.index.sync()
    rows = api.ledger.index.query("evidence", {})["items"]
    assert sorted((e["binding"], e["partyId"]) for e in rows) == sorted(
        [("0x" + binding.hex(), p1), ("0x" + binding.hex(), p2)]
    )


def test_a_reorganisation_leaves_no_rows_of_the_orphaned_blocks(api: Api) -> None:
    p = Parties(api)
    indexer = api.ledger.index
    mine(api, 2)
    indexer.sync()
    fork = int(api.chain.w3.eth.block_number)
    snap = api.chain.snapshot()
    # the branch that will be orphaned: an asset and a single registration
    orphan_asset = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Orphan")
    orphan = h("orphaned evidence")
    assert api.client.post("/v1/evidence", json=api.single_body(p.x, orphan)).status_code == 202
    api.ledger.pipeline.drain()
    mine(api, 2)
    indexer.sync()
    assert [x["assetId"] for x in indexer.query("assets", {})["items"]] == [orphan_asset]
    orphaned_blocks = set(range(fork + 1, int(api.chain.w3.eth.block_number) + 1))

    # the reorganisation: back to the fork, and a longer branch with other content (sent straight to the
    # chain: the relayer's nonce belongs to the orphaned branch)
    api.chain.revert(snap)
    newcomer = api.chain.admit([account("newcomer").address], scheme="other", identifier="NEW-0001")
    other = h("the canonical evidence")
    api.chain.register(p.y, other)
    mine(api, 6)
    indexer.sync()

    assert indexer.query("assets", {})["items"] == []
    assert indexer.status()["counts"]["parties"] == newcomer == 7
    assert [e["binding"] for e in indexer.query("evidence", {})["items"]] == ["0x" + other.hex()]
    w3 = api.chain.w3
    with indexer.engine.connect() as db:
        for number, block_hash in db.execute(select(schema.blocks.c.number, schema.blocks.c.hash)).all():
            assert block_hash == "0x" + bytes(w3.eth.get_block(number)["hash"]).hex(), number
        for table in (
            schema.events,
            schema.evidence,
            schema.assets,
            schema.parties,
            schema.agreements,
            schema.batches,
            schema.disputes,
        ):
            for row in db.execute(select(table.c.block)).scalars():
                if row in orphaned_blocks:
                    got = db.execute(select(schema.blocks.c.hash).where(schema.blocks.c.number == row)).scalar()
                    assert got == "0x" + bytes(w3.eth.get_block(row)["hash"]).hex()
        names = [r.name for r in db.execute(select(schema.events).where(schema.events.c.block > fork)).all()]
        registered = (
            db.execute(select(schema.evidence.c.content_hash).where(schema.evidence.c.block > fork)).scalars().all()
        )
    assert "PartyAdmitted" in names and "AssetRegistered" not in names
    assert registered == ["0x" + other.hex()]


def test_anvil_reorg_during_sync_leaves_no_orphaned_rows(api: Api) -> None:
    """anvil's own reorganisation (``anvil_reorg``): the last blocks are replaced by blocks with other content."""
    p = Parties(api)
    w3 = api.chain.w3
    api.chain.as_(p.x)  # funded before the fork
    mine(api, 2)
    indexer = api.ledger.index
    indexer.sync()
    fork = int(w3.eth.block_number)
    orphans = [h(f"orphan {i}") for i in range(2)]
    for content in orphans:
        api.chain.register(p.x, content)  # one block each
    mine(api, 2)
    indexer.sync()
    assert {e["binding"] for e in indexer.query("evidence", {})["items"]} == {"0x" + c.hex() for c in orphans}

    # replace every block after the fork with a branch whose one registration is another hash
    replacement = h("replacement")
    nonce = int(w3.eth.get_transaction_count(p.x.address, fork))
    tx = api.chain.evidence.functions.register((replacement, 1, b"\0" * 32, b"\0" * 32)).build_transaction(
        {"from": p.x.address, "nonce": nonce, "gas": 500_000, "chainId": int(w3.eth.chain_id)}
    )
    raw = "0x" + bytes(p.x.sign_transaction(tx).raw_transaction).hex()
    depth = int(w3.eth.block_number) - fork
    resp = w3.provider.make_request("anvil_reorg", [depth, [[raw, 1]]])
    assert "error" not in resp, resp
    mine(api, 2)
    indexer.sync()

    assert [e["binding"] for e in indexer.query("evidence", {})["items"]] == ["0x" + replacement.hex()]
    with indexer.engine.connect() as db:
        for number, block_hash in db.execute(select(schema.blocks.c.number, schema.blocks.c.hash)).all():
            assert block_hash == "0x" + bytes(w3.eth.get_block(number)["hash"]).hex(), number
        assert db.execute(select(schema.events.c.name).where(schema.events.c.block > fork)).scalars().all() == []
        after = db.execute(select(schema.evidence.c.content_hash).where(schema.evidence.c.block > fork)).scalars().all()
        assert after == ["0x" + replacement.hex()]


def test_ipledger_index_rebuild_from_an_empty_database_answers_the_same(api: Api) -> None:
    from ledger.chain.deployment import manifest_path
    from tests.helpers import cli_env, run_cli

    scenario(api)
    indexer = api.ledger.index
    indexer.sync()
    before = answers(indexer)
    settings = api.ledger.settings
    api.ledger.manifest.save(manifest_path(settings.data_dir, api.ledger.manifest.chain_id))
    indexer.engine.dispose()
    for suffix in ("", "-wal", "-shm"):  # WAL mode: the database is three files
        (settings.data_dir / f"index.sqlite3{suffix}").unlink(missing_ok=True)
    common = ["--rpc-url", api.chain.node_url, "--data-dir", str(settings.data_dir)]
    env = cli_env(IPLEDGER_CONFIRMATIONS=str(settings.confirmations))
    done = run_cli("index", "rebuild", *common, env=env)
    assert done.returncode == 0, done.stderr
    assert "rebuilt to block" in done.stdout
    fresh = indexer_of(api.ledger, schema.make_engine(schema.default_url(settings)))
    assert answers(fresh) == before
    status = run_cli("index", "status", *common, "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert '"behind": 0' in status.stdout and '"evidence": 7' in status.stdout
    words = run_cli("index", "status", *common, env=env)
    assert words.returncode == 0, words.stderr
    assert "up to date" in words.stdout and "7 evidence" in words.stdout and "{" not in words.stdout
    synced = run_cli("index", "sync", *common, env=env)
    assert synced.returncode == 0 and "indexed to block" in synced.stdout, synced.stderr


def test_the_background_indexer_follows_the_chain_until_stopped(api: Api) -> None:
    import time

    indexer = api.ledger.index
    indexer.settings.index_poll = 0.05
    indexer.start()
    try:
        p = Parties(api)
        mine(api, api.ledger.settings.confirmations)
        deadline = time.monotonic() + 10
        while indexer.status()["counts"]["parties"] < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        status = indexer.status()
        assert status["running"] and status["counts"]["parties"] == 6 and status["lastError"] is None
        assert p.p_bank == 6
    finally:
        indexer.stop()
    assert not indexer.status()["running"]


def test_a_dispute_is_followed_from_opening_to_award(api: Api) -> None:
    from tests.api.test_disputes import AWARD, CLAIM, admit_institution, signed

    p = Parties(api)
    arbs, p_arb = admit_institution(api, jurisdiction="mainland", nameEn="Shenzhen Court of International Arbitration")
    b = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "start": now,
            "end": now + 86400 * 365,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
        p.uni,
        p.y,
    )
    body = {
        "subject": "agreement",
        "subjectId": lic["agreementId"],
        "claimant": p.p_x,
        "respondent": p.p_uni,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    opened = signed(api, "/v1/disputes", body, arbs)
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["disputeId"]
    mine(api, api.ledger.settings.confirmations)
    indexer = api.ledger.index
    indexer.sync()
    [d] = indexer.query("disputes", {"party": str(p.p_x), "status": "open"})["items"]
    assert (d["disputeId"], d["assetId"], d["institution"], d["subjectKind"]) == (dispute_id, b, p_arb, "agreement")
    assert indexer.query("disputes", {"asset": str(b)})["items"] == [d]
    assert indexer.query("assets", {})["items"][0]["frozen"] is True

    award = {"outcome": "agreement_voided", "awardHash": AWARD}
    assert signed(api, f"/v1/disputes/{dispute_id}/award", award, arbs).status_code == 200
    mine(api, api.ledger.settings.confirmations)
    indexer.sync()
    [d] = indexer.query("disputes", {"party": str(p.p_uni)})["items"]
    assert d["status"] == "closed" and d["outcome"] == "agreement_voided" and d["awardHash"] == AWARD
    assert indexer.query("disputes", {"status": "open"})["items"] == []
    assert indexer.query("assets", {})["items"][0]["frozen"] is False
    assert [x["agreementId"] for x in indexer.query("agreements", {"status": "voided"})["items"]] == [
        lic["agreementId"]
    ]
    before = answers(indexer)
    indexer.rebuild()
    assert answers(indexer) == before


def _jsonable(value: Any) -> Any:
    """web3's decoded values as the index stores them: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):  # web3's AttributeDict for a struct
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def test_the_event_decoder_reads_every_log_as_web3_does(api: Api) -> None:
    """The catch-up decodes raw logs itself; every event of a scenario reads exactly as web3's decoder has it."""
    from web3._utils.events import get_event_data

    scenario(api)
    indexer = api.ledger.index
    w3 = api.chain.w3
    addresses = [Web3.to_checksum_address(a) for a in indexer.addresses]
    raw = w3.provider.make_request("eth_getLogs", [{"address": addresses, "fromBlock": "0x0", "toBlock": "latest"}])[
        "result"
    ]
    formatted = w3.eth.get_logs({"address": addresses, "fromBlock": 0, "toBlock": "latest"})
    assert len(raw) == len(formatted) > 0
    seen: set[str] = set()
    for entry, log in zip(raw, formatted, strict=True):
        decoder = indexer._decoders[(entry["address"].lower(), entry["topics"][0])]
        ours = decoder.decode(entry["topics"], entry["data"])
        abi = next(
            e for e in load_artifact(decoder.contract)["abi"] if e["type"] == "event" and e["name"] == decoder.name
        )
        theirs = get_event_data(w3.codec, abi, log)
        assert ours == _jsonable(dict(theirs["args"])), decoder.name
        seen.add(decoder.name)
    # static (read from the words) and dynamic (strings, arrays, a struct: through eth-abi) events both covered
    assert {
        "EvidenceRegistered",
        "BatchAnchored",
        "AgreementSigned",
        "PartyAdmitted",
        "AssetRegistered",
        "TitleTransferred",
    } <= seen


def test_a_failing_index_database_is_a_503_and_one_cli_line(api: Api) -> None:
    from ledger.chain.deployment import manifest_path
    from tests.helpers import cli_env, run_cli

    unreachable = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    api.ledger.settings.index_url = unreachable
    api.ledger.__dict__.pop("index", None)
    resp = api.client.get("/v1/index/status")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "index_unavailable"
    assert api.client.get("/v1/index/evidence").status_code == 503

    settings = api.ledger.settings
    api.ledger.manifest.save(manifest_path(settings.data_dir, api.ledger.manifest.chain_id))
    out = run_cli(
        "index",
        "status",
        "--rpc-url",
        api.chain.node_url,
        "--data-dir",
        str(settings.data_dir),
        "--index-url",
        unreachable,
        env=cli_env(),
    )
    assert out.returncode == 1
    assert out.stderr.startswith("error: the index database failed") and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_licence_past_its_end_lists_as_expired_with_its_term(api: Api) -> None:
    from tests.api.test_agreements_scenario import time_travel

    p = Parties(api)
    a = register_asset(api, p.uni, p.p_uni, "201710601862.3", "一种数据存证方法")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": a,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + 3 * 86400,
            "royalty": {"basis": "lump_sum", "amount": "1", "currency": "HKD"},
        },
        p.uni,
        p.y,
    )
    assign = agree(
        api, {"kind": "assignment", "assetId": a, "assignees": [{"partyId": p.p_x, "share": 10_000}]}, p.uni, p.x
    )
    mine(api, api.ledger.settings.confirmations)
    indexer = api.ledger.index
    indexer.sync()
    listed = {x["agreementId"]: x for x in indexer.query("agreements", {})["items"]}
    assert (listed[lic["agreementId"]]["start"], listed[lic["agreementId"]]["end"]) == (now, now + 3 * 86400)
    assert listed[lic["agreementId"]]["status"] == "effective"
    assert (listed[assign["agreementId"]]["start"], listed[assign["agreementId"]]["end"]) == (None, None)

    time_travel(api, 4 * 86400)
    mine(api, api.ledger.settings.confirmations)
    indexer.sync()
    expired = indexer.query("agreements", {"status": "expired"})["items"]
    assert [x["agreementId"] for x in expired] == [lic["agreementId"]] and expired[0]["status"] == "expired"
    assert [x["agreementId"] for x in indexer.query("agreements", {"status": "effective"})["items"]] == [
        assign["agreementId"]
    ]
    # the term was kept with the event: a replay (as after a reorganisation) needs no chain and gives the same
    before = answers(indexer)
    with indexer.engine.begin() as db:
        indexer._replay(db)
    assert answers(indexer) == before


def test_an_index_written_under_another_layout_is_read_again_from_the_chain(api: Api) -> None:
    scenario(api)
    indexer = api.ledger.index
    indexer.sync()
    before = answers(indexer)
    with indexer.engine.begin() as db:
        db.execute(schema.index_meta.update().values(value="1"))
        db.execute(schema.evidence.delete())  # a stale copy under the old layout
    reopened = indexer_of(api.ledger, indexer.engine)
    assert reopened.status()["lastBlock"] is None  # dropped and created afresh
    reopened.sync()
    assert answers(reopened) == before


def test_a_node_that_stops_answering_is_not_taken_for_a_reorganisation(api: Api) -> None:
    from web3 import HTTPProvider

    from ledger.errors import ChainUnavailable

    scenario(api)
    indexer = api.ledger.index
    indexer.sync()
    before, status = answers(indexer), indexer.status()
    gone = Web3(HTTPProvider(f"http://127.0.0.1:{free_port()}", request_kwargs={"timeout": 2}))
    cut_off = Indexer(gone, api.ledger.manifest, api.ledger.settings, indexer.engine)
    with pytest.raises(ChainUnavailable):
        cut_off.sync()
    assert answers(indexer) == before  # nothing rolled back
    assert indexer.status()["lastBlock"] == status["lastBlock"]


def test_a_licence_whose_block_state_the_node_no_longer_keeps_is_indexed_from_the_latest_state(api: Api) -> None:
    """The embedded node keeps the states of its last ``HISTORY_STATES`` blocks only (and none from before a
    restart): a licence's term, read at the event's block, is then read from the latest state."""
    from ledger.chain.node import HISTORY_STATES
    from ledger.chain.rpc import NodeRefused, rpc

    p = Parties(api)
    asset = register_asset(api, p.uni, p.p_uni, "201910000003.8", "Sensor array")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": asset,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": now + 5,
            "end": now + 86400,
            "royalty": {"basis": "lump_sum", "amount": "1", "currency": "CNY"},
        },
        p.uni,
        p.y,
    )
    executed = api.chain.w3.eth.block_number
    mine(api, HISTORY_STATES + 2)
    old = api.chain.w3.eth.get_block(executed)["hash"].to_0x_hex()
    with pytest.raises(NodeRefused):  # the premise: that block's state is gone
        rpc(
            api.chain.w3,
            "eth_call",
            [{"to": api.ledger.manifest.address("IPAssetRegistry"), "data": "0x"}, {"blockHash": old}],
        )
    indexer = api.ledger.index
    indexer.sync()
    (row,) = [
        x for x in indexer.query("agreements", {"type": "licence"})["items"] if x["agreementId"] == lic["agreementId"]
    ]
    assert (row["start"], row["end"]) == (now + 5, now + 86400)


def test_a_sublicence_ends_with_its_parent_in_the_index_and_the_title_report(api: Api) -> None:
    """A terminated parent licence ends its sublicences: the index lists them as ended_with_parent (derived from
    the parent's event, as the contract derives it), the title report says why, and a rebuild answers the same."""
    from ledger.domain import agreements as ag
    from ledger.domain import eip712

    p = Parties(api)
    b = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    now = api.chain.now()
    licence = {
        "kind": "licence",
        "assetId": b,
        "licenceType": "exclusive",
        "territory": ["CN"],
        "start": now,
        "end": now + 86400 * 365,
        "royalty": {"basis": "lump_sum", "amount": "1"},
    }
    parent = agree(api, {**licence, "licensee": p.p_y, "sublicensable": True}, p.uni, p.y)
    sub = agree(
        api, {**licence, "licensee": p.p_z, "licenceType": "ordinary", "parentLicence": parent["agreementId"]}, p.y, p.z
    )
    deadline = api.chain.now() + 600
    msg = ag.termination_message(
        ag.assets_domain(api.ledger.manifest.chain_id, api.ledger.assets.address),
        bytes.fromhex(parent["agreementId"][2:]),
        deadline,
    )
    sigs = [{"signer": a.address, "signature": "0x" + eip712.sign(msg, a).hex()} for a in (p.uni, p.y)]
    resp = api.client.post(
        f"/v1/agreements/{parent['agreementId']}/terminate", json={"deadline": deadline, "signatures": sigs}
    )
    assert resp.status_code == 200, resp.text
    shown = api.client.get(f"/v1/agreements/{sub['agreementId']}").json()
    assert shown["status"] == "ended_with_parent" and shown["endedWithParent"] == parent["agreementId"]
    title = api.client.get(f"/v1/assets/{b}/title").json()
    assert title["licences"] == []
    [ended] = title["endedWithParent"]
    assert (
        ended["agreementId"] == sub["agreementId"]
        and ended["reason"] == f"ended with parent licence {parent['agreementId']}"
    )
    mine(api, api.ledger.settings.confirmations)
    indexer = api.ledger.index
    indexer.sync()
    [row] = indexer.query("agreements", {"status": "ended_with_parent"})["items"]
    assert row["agreementId"] == sub["agreementId"] and row["parentLicence"] == parent["agreementId"]
    assert [x["agreementId"] for x in indexer.query("agreements", {"status": "terminated"})["items"]] == [
        parent["agreementId"]
    ]
    before = answers(indexer)
    indexer.rebuild()
    assert answers(indexer) == before


def test_a_partys_suspension_lapses_or_is_confirmed_and_its_recoveries_are_indexed(api: Api) -> None:
    """The index judges a registrar's suspension by the contract's rule at the time it has read (provisional,
    then lapsed without a confirmation; confirmed; reinstated), keeps recovery and account events as the party's
    history, and a rebuild from an empty database answers the same."""
    from ledger.domain import eip712
    from tests.helpers import TEST_RECOVERY_DELAY, TEST_SUSPENSION_PERIOD

    indexer = api.ledger.index
    a, b, fresh, later = account("ix-party-a"), account("ix-party-b"), account("ix-party-fresh"), account("ix-later")
    pid = api.admit(a, "91110108551385082Q")

    def synced() -> dict[str, Any]:
        mine(api, api.ledger.settings.confirmations)
        indexer.sync()
        record = indexer.party(pid)
        assert record is not None
        return record

    assert synced()["suspensionState"] == "none"
    suspended = api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "stolen key"}, headers=api.auth).json()
    record = synced()
    assert record["suspensionState"] == "provisional"
    assert record["suspensionLapsesAt"] == suspended["suspendedAt"] + TEST_SUSPENSION_PERIOD
    assert record["history"][0]["event"] == "suspended" and record["history"][0]["reasonHash"].startswith("0x")

    # no confirmation within the period: the suspension lapses (no event marks it; the index judges the time)
    api.chain.advance(TEST_SUSPENSION_PERIOD + 1)
    record = synced()
    assert record["suspensionState"] == "lapsed"
    lapse = record["history"][0]
    assert lapse == {
        "event": "suspension_lapsed",
        "time": record["suspensionLapsesAt"],
        "block": None,
        "transactionHash": None,
    }
    # judged at another time, the same record is still provisional: the rule, not a stored flag
    earlier = indexer.party(pid, now=record["suspensionLapsesAt"] - 1)
    assert earlier is not None and earlier["suspensionState"] == "provisional"
    assert "suspension_lapsed" not in [e["event"] for e in earlier["history"]]

    # governance clears the lapsed record; the registrar suspends again and governance confirms in time
    assert api.client.post(f"/v1/parties/{pid}/reinstate", headers=api.auth).status_code == 200
    assert synced()["suspensionState"] == "reinstated"
    assert api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "again"}, headers=api.auth).status_code == 200
    assert api.client.post(f"/v1/parties/{pid}/suspension/confirm", headers=api.auth).status_code == 200
    api.chain.advance(TEST_SUSPENSION_PERIOD + 1)
    record = synced()
    assert record["suspensionState"] == "confirmed" and record["suspensionLapsesAt"] is None
    assert [e["event"] for e in record["history"][:3]] == ["suspension_confirmed", "suspended", "reinstated"]
    assert api.client.post(f"/v1/parties/{pid}/reinstate", headers=api.auth).status_code == 200

    # the party adds an account (its own signature and the newcomer's)
    party = api.client.get(f"/v1/parties/{pid}").json()
    deadline = api.chain.now() + 600
    msg = eip712.account_change_message(
        api.ledger.evidence_service.domain(),
        party_id=pid,
        action="add",
        account=b.address,
        new_account=None,
        threshold=1,
        nonce=party["accountNonce"],
        deadline=deadline,
    )
    body = {
        "action": "add",
        "account": b.address,
        "threshold": 1,
        "nonce": party["accountNonce"],
        "deadline": deadline,
        "signatures": [{"signer": a.address, "signature": "0x" + eip712.sign(msg, a).hex()}],
        "newAccountSignature": "0x" + eip712.sign(msg, b).hex(),
    }
    assert api.client.post(f"/v1/parties/{pid}/accounts", json=body).status_code == 200

    # a recovery vetoed by the party's second account, one cancelled by governance, one executed
    proposed = api.client.post(
        f"/v1/parties/{pid}/recovery", json={"newAccount": fresh.address}, headers=api.auth
    ).json()
    record = synced()
    assert record["pendingRecovery"] == proposed["pendingRecovery"]
    assert record["history"][0] == {
        **record["history"][0],
        "event": "recovery_proposed",
        "newAccount": fresh.address,
        "executableAt": proposed["pendingRecovery"]["executableAt"],
    }
    veto = eip712.recovery_veto_message(
        api.ledger.evidence_service.domain(),
        party_id=pid,
        new_account=fresh.address,
        executable_at=proposed["pendingRecovery"]["executableAt"],
    )
    resp = api.client.post(
        f"/v1/parties/{pid}/recovery/veto", json={"account": b.address, "signature": "0x" + eip712.sign(veto, b).hex()}
    )
    assert resp.status_code == 200, resp.text
    record = synced()
    assert record["pendingRecovery"] is None
    assert {k: record["history"][0][k] for k in ("event", "account")} == {
        "event": "recovery_vetoed",
        "account": b.address,
    }
    api.client.post(f"/v1/parties/{pid}/recovery", json={"newAccount": fresh.address}, headers=api.auth)
    api.chain.governance_sender.send_call(api.chain.evidence.functions.cancelRecovery(pid))
    assert synced()["history"][0]["event"] == "recovery_cancelled"
    api.client.post(f"/v1/parties/{pid}/recovery", json={"newAccount": later.address}, headers=api.auth)
    api.chain.advance(TEST_RECOVERY_DELAY + 1)
    assert api.client.post(f"/v1/parties/{pid}/recovery/execute").status_code == 200
    record = synced()
    events = [e["event"] for e in record["history"]]
    assert record["history"][0]["event"] == "recovery_executed" and record["history"][0]["newAccount"] == later.address
    assert events.count("account_removed") == 2 and "accounts_changed" in events and events[-1] == "admitted"
    changed = next(e for e in record["history"] if e["event"] == "accounts_changed")
    assert (changed["action"], changed["nonce"], changed["threshold"]) == ("add", 0, 1)
    with indexer.engine.connect() as db:
        held = set(
            db.execute(select(schema.party_accounts.c.account).where(schema.party_accounts.c.party_id == pid)).scalars()
        )
    assert held == {later.address}

    # bounded: the newest entries only, the total counted
    short = indexer.party(pid, limit=3)
    assert (
        short is not None
        and short["history"] == record["history"][:3]
        and short["historyTotal"] == record["historyTotal"]
    )
    indexer.rebuild()
    assert indexer.party(pid) == record


def test_a_damaged_sqlite_index_is_set_aside_and_rebuilt_from_the_chain(api: Api, tmp_path: Any) -> None:
    """The index can always be rebuilt from the chain: a file that is not a database (or a damaged one) is moved
    to ``index.sqlite3.damaged`` and made again, instead of stopping `ipledger up` with a traceback."""
    scenario(api)
    indexer = api.ledger.index
    indexer.sync()
    before = answers(indexer)
    path = tmp_path / "index.sqlite3"
    garbage = b"a backup tool wrote over the index\n" * 100
    path.write_bytes(garbage)
    damaged = indexer_of(api.ledger, schema.make_engine(f"sqlite:///{path}"))  # opens nothing yet
    assert path.read_bytes() == garbage
    damaged.sync()
    assert answers(damaged) == before
    assert (tmp_path / "index.sqlite3.damaged").read_bytes() == garbage


def test_an_index_database_that_does_not_answer_leaves_the_service_running(api: Api) -> None:
    """The event index is a read model: its database down when the service starts answers its routes 503
    `index_unavailable` and leaves registrations, lookups and health as they are (it failed the app's start)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = api.ledger.settings.model_copy(
        update={"index_url": f"postgresql+psycopg://ipledger@127.0.0.1:{free_port()}/index"}
    )
    ledger = Ledger(w3=api.ledger.w3, manifest=api.ledger.manifest, settings=settings)
    with TestClient(create_app(ledger, settings, run_indexer=True), raise_server_exceptions=False) as client:
        assert client.get("/v1/health").status_code == 200
        resp = client.get("/v1/index/evidence")
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "index_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    ledger.close()
