"""The verification portal in a real browser (Debian's Chromium through Playwright) against the real API:
look up a registered and an unregistered file hashed in the page, verify a good and a tampered certificate,
switch language, and SM3/SHA-256 in JavaScript agree with Python's."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from ledger.domain import eip712
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from tests.api.test_agreements_scenario import YEAR, agree, confirm_asset, register_asset
from tests.browser.conftest import OPERATOR_TOKEN, Portal
from tests.helpers import account

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
CONTRACT = "独占许可合同 — exclusive licence contract of the portal test\n".encode() * 40


def shanghai(ts: int) -> str:
    """A block time as the portal writes it: YYYY-MM-DD HH:MM:SS in Asia/Shanghai (computed here with zoneinfo)."""
    return datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")


def open_portal(page: Any, portal: Portal, query: str = "") -> None:
    page.goto(portal.url + "/" + query)
    expect(page.locator("#heading")).to_be_visible()


def drop_file(page: Any, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_a_registered_file_dropped_in_the_page_shows_its_record_and_certificate_links(
    page: Any, portal: Portal
) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_portal(page, portal)
    drop_file(page, "drawing.txt", portal.doc, "text/plain")
    result = page.locator("#lookup-result")
    expect(result).to_have_attribute("data-state", "registered")
    expect(page.locator("#lookup-status")).to_have_text("Registered")
    expect(result).to_contain_text("0x" + portal.content_hash.hex())
    expect(result.locator("[data-field=party] td")).to_contain_text("Qianhai Portal Test Ltd")
    expect(result.locator("[data-field=party] td")).to_contain_text(f"#{portal.party_id}")
    expect(result.locator("[data-field=method] td")).to_have_text("direct")
    record = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}")
    expect(result.locator("[data-field=transaction] td")).to_have_text(record["transactionHash"])
    expect(result.locator("[data-field=block] td")).to_have_text(str(record["blockNumber"]))
    expect(result.locator("[data-field=timeUtc] td")).to_contain_text("UTC")
    # the lookup names the party that registered the content first, and the others (none here)
    expect(result.locator("[data-field=first] td")).to_contain_text(
        f"party #{portal.party_id} registered it first (block {record['blockNumber']}"
    )
    expect(result.locator("[data-field=others] td")).to_have_text("no other party")
    with page.expect_download() as dl:
        page.click("#cert-json")
    cert = json.loads(Path(dl.value.path()).read_text())
    assert cert["evidence"]["contentHash"] == "0x" + portal.content_hash.hex()
    expect(page.locator("#cert-pdf")).to_have_attribute(
        "href", f"/v1/evidence/0x{portal.content_hash.hex()}/certificate?format=pdf"
    )
    # Only the hash went to the server: every request is to this origin and none carries the file.
    assert all(u.startswith(portal.url) for u in requests), requests
    assert not any("drawing" in u for u in requests)
    assert not page.js_errors


def test_an_unregistered_file_is_reported_as_not_registered(page: Any, portal: Portal) -> None:
    open_portal(page, portal)
    data = b"never registered " + os.urandom(16)
    # A real drop event this time (the other tests pick the file through the input).
    page.locator("#drop").evaluate(
        "(el, bytes) => { const dt = new DataTransfer();"
        " dt.items.add(new File([new Uint8Array(bytes)], 'other.bin'));"
        " el.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); }",
        list(data),
    )
    expect(page.locator("#lookup-result")).to_have_attribute("data-state", "not-registered")
    expect(page.locator("#lookup-status")).to_contain_text("Not registered")
    expect(page.locator("#cert-json")).to_have_count(0)
    assert page.input_value("#hash-input") == "0x" + hash_bytes(data, HashAlgorithm.SHA256).hex()


def test_the_certificate_link_of_a_pdf_opens_the_record(page: Any, portal: Portal) -> None:
    open_portal(page, portal, f"?hash=0x{portal.content_hash.hex()}")
    expect(page.locator("#lookup-result")).to_have_attribute("data-state", "registered")


def test_a_good_certificate_verifies_with_every_check_passed(page: Any, portal: Portal) -> None:
    cert = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}/certificate")
    open_portal(page, portal)
    page.fill("#cert-text", json.dumps(cert, indent=2))
    page.set_input_files("#orig-file", files=[{"name": "drawing.txt", "mimeType": "text/plain", "buffer": portal.doc}])
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "passed")
    expect(page.locator("#verdict")).to_have_text("Authentic: the record matches the chain, every check passed")
    expect(page.locator("li.check[data-name=file]")).to_have_attribute("data-status", "passed")
    expect(page.locator("li.check[data-status=failed]")).to_have_count(0)


def test_a_tampered_certificate_fails_and_names_the_failing_check(page: Any, portal: Portal, tmp_path: Path) -> None:
    cert = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}/certificate")
    cert["anchor"]["blockTimestamp"] += 3600
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(cert))
    open_portal(page, portal)
    page.set_input_files("#cert-file", str(path))  # picked as a file this time
    expect(page.locator("#cert-text")).to_have_value(path.read_text())
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "failed")
    failed = page.locator("li.check[data-status=failed]")
    expect(failed.first).to_be_visible()
    names = failed.evaluate_all("els => els.map(e => e.dataset.name)")
    assert "block" in names, names
    expect(page.locator("#failed-checks")).to_contain_text("Block")


def test_a_time_stamp_certificate_verifies_with_a_sha512_imprint_and_a_wrong_file_fails(
    make_page: Any, portal: Portal
) -> None:
    """docs/tsa.md §7 in the browser: a token from POST /v1/tsa, its certificate from POST /v1/tsa/certificate; the
    page hashes the file in the token's algorithm (SHA-512 here), says when it existed, and fails another file."""
    import threading

    from asn1crypto import tsp

    content = b"time-stamped lab notebook page\n" * 50
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha512"},
                "hashed_message": hashlib.sha512(content).digest(),
            },
            "cert_req": True,
        }
    ).dump()
    # evm_revert of the suite's shared node sets its clock back to the snapshot's block time, so after many tests it
    # lags the wall clock by minutes; a real chain's block time follows the wall clock, which the TSA checks against
    # the request's arrival (docs/tsa.md §4): set the node's clock to now before asking
    lag = time.time() - portal.chain.now()
    if lag > 0:
        portal.chain.w3.provider.make_request("evm_setTime", [int(time.time())])  # type: ignore[arg-type]
        portal.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert abs(time.time() - portal.chain.now()) < 60, "the node's clock is ahead of the wall clock"
    done = threading.Event()

    def mine() -> None:  # the TSA waits for a confirmation on top of its anchor; this node mines only on demand
        while not done.wait(0.3):
            portal.chain.w3.provider.make_request("evm_mine", [])

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        reply = httpx.post(
            portal.url + "/v1/tsa",
            content=query,
            headers={"Content-Type": "application/timestamp-query", "Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=120,
        )
    finally:
        done.set()
        miner.join()
    cert = httpx.post(portal.url + "/v1/tsa/certificate", content=reply.content, timeout=30)
    assert cert.status_code == 200, cert.text
    doc = cert.json()
    for language, other in (("en", False), ("zh-CN", True)):
        page = make_page(language)
        open_portal(page, portal)
        page.fill("#cert-text", json.dumps(doc))
        data = content + b"!" if other else content
        page.set_input_files("#orig-file", files=[{"name": "notebook.txt", "mimeType": "text/plain", "buffer": data}])
        page.click("#verify-button")
        expect(page.locator("#verdict")).to_have_attribute("data-verdict", "failed" if other else "passed")
        expect(page.locator("li.check[data-name=imprint]")).to_have_attribute(
            "data-status", "failed" if other else "passed"
        )
        if not other:
            when = shanghai(doc["timeStamp"]["genTime"])
            expect(page.locator("#verify-headline")).to_have_text(
                f"The file existed no later than {when} (Asia/Shanghai): time stamp anchored on the chain"
            )
            expect(page.locator("li.check[data-name=registry]")).to_have_attribute("data-status", "passed")


def test_a_wrong_original_file_fails_the_file_check(page: Any, portal: Portal) -> None:
    cert = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}/certificate")
    open_portal(page, portal)
    page.fill("#cert-text", json.dumps(cert))
    page.set_input_files("#orig-file", files=[{"name": "x.txt", "mimeType": "text/plain", "buffer": portal.doc + b"!"}])
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "failed")
    expect(page.locator("li.check[data-name=file]")).to_have_attribute("data-status", "failed")


def test_the_language_follows_the_browser_switches_and_is_remembered(make_page: Any, portal: Portal) -> None:
    page = make_page("zh-CN")
    open_portal(page, portal)
    heading = page.locator("#heading")
    expect(heading).to_have_text("前海知识产权存证 · 验证门户")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    drop_file(page, "drawing.txt", portal.doc, "text/plain")
    expect(page.locator("#lookup-status")).to_have_text("已存证")
    expect(page.locator("#lookup-result [data-field=party] td")).to_contain_text("前海门户测试有限公司")
    page.click("#lang-toggle")
    expect(heading).to_have_text("Qianhai IP Ledger · Verification portal")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#lookup-status")).to_have_text("Registered")  # rendered results follow the switch
    expect(page.locator("#lang-toggle")).to_have_text("中文")
    page.reload()
    expect(heading).to_have_text("Qianhai IP Ledger · Verification portal")  # the choice outlives the reload
    page.click("#lang-toggle")
    expect(heading).to_have_text("前海知识产权存证 · 验证门户")
    en = make_page("en-US")
    open_portal(en, portal)
    expect(en.locator("#heading")).to_have_text("Qianhai IP Ledger · Verification portal")


def test_sm3_and_sha256_in_the_browser_equal_pythons(page: Any, portal: Portal) -> None:
    open_portal(page, portal)
    assert page.evaluate("SM3.hex('abc')") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    rng = random.Random(32905)
    for size in (0, 1, 55, 56, 63, 64, 65, 119, 1000, 4099):
        data = rng.randbytes(size)
        js = page.evaluate(
            "([b, step]) => { const u = new Uint8Array(b); const h = new SM3(), s = new SHA256();"
            " for (let i = 0; i < u.length || i === 0; i += step) { h.update(u.subarray(i, i + step));"
            " s.update(u.subarray(i, i + step)); } return [SM3.toHex(h.digest()), SM3.toHex(s.digest())]; }",
            [list(data), rng.randint(1, 97)],
        )
        assert js == [hash_bytes(data, HashAlgorithm.SM3).hex(), hash_bytes(data, HashAlgorithm.SHA256).hex()], size
    # A file larger than one 4 MiB chunk, streamed through File.slice by the page and hashed with SM3.
    big = rng.randbytes(4 * 1024 * 1024 + 12345)
    page.select_option("#algorithm", "sm3")
    drop_file(page, "big.bin", big)
    expect(page.locator("#lookup-result")).to_have_attribute("data-state", "not-registered", timeout=30_000)
    assert page.input_value("#hash-input") == "0x" + hash_bytes(big, HashAlgorithm.SM3).hex()
    page.select_option("#algorithm", "sha256")  # re-hashes the chosen file, through WebCrypto
    expect(page.locator("#hash-input")).to_have_value(
        "0x" + hash_bytes(big, HashAlgorithm.SHA256).hex(), timeout=30_000
    )
    # Above the WebCrypto limit SHA-256 streams through sha256.js; lower the limit to take that path.
    page.evaluate("Portal.settings.webCryptoMax = 1024")
    page.fill("#hash-input", "")
    drop_file(page, "big2.bin", big[:-1])
    expect(page.locator("#hash-input")).to_have_value(
        "0x" + hash_bytes(big[:-1], HashAlgorithm.SHA256).hex(), timeout=30_000
    )


def test_an_assets_title_history_is_shown_as_a_timeline(page: Any, portal: Portal) -> None:
    api = portal
    uni = account("portal-university")
    p_uni = api.admit(
        uni,
        "12345678",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="香港示例大學",
        nameEn="Example University of Hong Kong",
    )
    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": "一种数据存证方法 / A method of data attestation",
        "filingDate": "2017-07-20",
        "owners": [{"partyId": p_uni, "share": 10_000}],
    }
    resp = api.client.post("/v1/assets/payload", json=fields)
    assert resp.status_code == 200, resp.text
    payload = resp.json()
    fields["deadline"] = payload["typedData"]["message"]["deadline"]
    sig = eip712.sign(payload["typedData"], uni)
    resp = api.client.post(
        "/v1/assets", json={**fields, "signatures": [{"signer": uni.address, "signature": "0x" + sig.hex()}]}
    )
    assert resp.status_code == 201, resp.text
    asset_id = int(resp.json()["assetId"])
    # a claim is marked as such before anything else, then an asset verifier confirms it
    open_portal(page, portal, f"?asset={asset_id}")
    badge = page.locator("#title-result #asset-status")
    expect(badge).to_have_attribute("data-status", "claimed")
    expect(badge).to_contain_text("not yet confirmed by an asset verifier")
    assert confirm_asset(api, asset_id).status_code == 200  # type: ignore[arg-type]
    proposal = api.client.post(
        "/v1/agreements",
        json={
            "kind": "assignment",
            "assetId": asset_id,
            "documentHash": "0x" + "ab" * 32,
            "assignees": [{"partyId": portal.party_id, "share": 10_000}],
        },
    ).json()
    for signer in (uni, account("portal-firm")):
        s = eip712.sign(proposal["typedData"], signer)
        r = api.client.post(
            f"/v1/agreements/{proposal['agreementId']}/signatures",
            json={"signer": signer.address, "signature": "0x" + s.hex()},
        )
        assert r.status_code == 200, r.text
    assert api.client.post(f"/v1/agreements/{proposal['agreementId']}/execute").status_code == 200

    open_portal(page, portal, f"?asset={asset_id}")
    result = page.locator("#title-result")
    expect(result).to_have_attribute("data-state", "shown")
    expect(result.locator("ul.owners").first).to_contain_text("Qianhai Portal Test Ltd")
    events = result.locator("ol.timeline > li")
    assert events.evaluate_all("els => els.map(e => e.dataset.event)")[:1] == ["AssetRegistered"]
    expect(result.locator("ol.timeline > li[data-event=AssetRegistered]")).to_contain_text(
        "Example University of Hong Kong"
    )
    expect(result.locator("ol.timeline > li[data-event=TitleTransferred]")).to_contain_text("Qianhai Portal Test Ltd")
    expect(result.locator("#asset-status")).to_have_attribute("data-status", "confirmed")
    expect(result.locator("ol.timeline > li[data-event=AssetConfirmed]")).to_contain_text("Example Patent Agency")
    page.fill("#asset-id", "424242")
    page.click("#title-button")
    expect(result).to_have_attribute("data-state", "error")


def test_a_partys_lapsed_suspension_pending_recovery_and_history_are_shown(page: Any, portal: Portal) -> None:
    from tests.helpers import TEST_SUSPENSION_PERIOD

    auth = {"Authorization": "Bearer browser-operator-token"}
    pid = portal.admit(
        account("portal-recovering"), "91110000600037341L", nameEn="Recovering Ltd", nameZh="恢复测试有限公司"
    )
    assert (
        portal.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "lost key"}, headers=auth).status_code == 200
    )
    fresh = account("portal-recovery-new").address
    assert (
        portal.client.post(f"/v1/parties/{pid}/recovery", json={"newAccount": fresh}, headers=auth).status_code == 200
    )
    portal.chain.advance(TEST_SUSPENSION_PERIOD + 1)  # no confirmation within the period: the suspension lapses
    portal.ledger.index.sync()

    open_portal(page, portal, f"?party={pid}")
    result = page.locator("#party-result")
    expect(result).to_have_attribute("data-state", "shown")
    expect(result.locator("#party-status")).to_have_attribute("data-suspension", "lapsed")
    expect(result.locator("#party-status")).to_contain_text("lapsed at")
    expect(result.locator("#party-recovery")).to_contain_text(fresh)
    events = result.locator("#party-history > li").evaluate_all("els => els.map(e => e.dataset.event)")
    assert events == ["suspension_lapsed", "recovery_proposed", "suspended", "account_added", "admitted"], events
    expect(result.locator("li[data-event=recovery_proposed]")).to_contain_text(fresh)
    page.click("#lang-toggle")
    expect(result.locator("#party-status")).to_contain_text("失效")
    expect(result.locator("li[data-event=suspension_lapsed]")).to_contain_text("临时暂停未获确认而失效")
    page.fill("#party-id", "424242")
    page.click("#party-button")
    expect(result).to_have_attribute("data-state", "error")
    assert not page.js_errors


def test_a_licence_voided_by_an_award_is_authentic_but_voided_in_both_languages(
    make_page: Any, portal: Portal, licence: Licence
) -> None:
    from tests.api.test_agreements_scenario import time_travel
    from tests.api.test_disputes import AWARD, CLAIM, admit_institution, signed

    firm = account("portal-firm")
    arbs, p_arb = admit_institution(
        portal,  # type: ignore[arg-type]
        "portal-arbitration",
        jurisdiction="mainland",
        nameZh="深圳国际仲裁院",
        nameEn="Shenzhen Court of International Arbitration",
    )
    asset_id = register_asset(portal, licence.licensor, licence.licensor_id, "202010654321.9", "一种储能装置")  # type: ignore[arg-type]
    now = portal.chain.now()
    lic = agree(
        portal,  # type: ignore[arg-type]
        {
            "kind": "licence",
            "assetId": asset_id,
            "licensee": portal.party_id,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "percentage", "rate": 300, "currency": "CNY"},
        },
        licence.licensor,
        firm,
    )
    body = {
        "subject": "agreement",
        "subjectId": lic["agreementId"],
        "claimant": portal.party_id,
        "respondent": licence.licensor_id,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    opened = signed(portal, "/v1/disputes", body, arbs)  # type: ignore[arg-type]
    assert opened.status_code == 201, opened.text
    did = opened.json()["disputeId"]
    time_travel(portal, 100)  # type: ignore[arg-type]
    closed = signed(portal, f"/v1/disputes/{did}/award", {"outcome": "agreement_voided", "awardHash": AWARD}, arbs)  # type: ignore[arg-type]
    assert closed.status_code == 200, closed.text
    voided_at = shanghai(closed.json()["closedAt"])

    page = make_page("en-GB")
    open_portal(page, portal, f"?agreement={lic['agreementId']}")
    status = page.locator("#agreement-status")
    expect(status).to_have_attribute("data-status", "voided")
    expect(status).to_have_text(f"Status: voided by an arbitral award ({voided_at}, Asia/Shanghai)")
    expect(page.locator("#agreement-kind")).to_have_text("ordinary (non-exclusive) licence")
    cert = portal.get(f"/v1/agreements/{lic['agreementId']}/certificate")
    page.fill("#cert-text", json.dumps(cert))
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "passed")
    legal = page.locator("#legal-status")
    expect(legal).to_have_attribute("data-state", "voided")
    expect(legal).to_have_attribute("data-in-force", "false")
    expect(legal).to_have_text(
        f"Legal status now: voided by an arbitral award ({voided_at}, Asia/Shanghai) in dispute {did}"
    )
    page.click("#lang-toggle")
    expect(status).to_have_text(f"状态：已被仲裁裁决撤销（{voided_at}，北京时间）")
    expect(page.locator("#agreement-kind")).to_have_text("普通许可")
    expect(page.locator("#verdict")).to_have_text("真实：记录与链上一致，全部检查通过")
    expect(legal).to_have_text(f"当前法律状态：已被仲裁裁决撤销（{voided_at}，北京时间），争议编号 {did}")
    assert not page.js_errors


def test_every_check_the_verifiers_report_has_a_name_in_both_languages(page: Any, portal: Portal) -> None:
    ids: set[str] = set()
    for path in (ROOT / "ledger" / "certificates").glob("*.py"):
        ids |= set(re.findall(r"\.(?:add|skip)\(\s*\"([a-z][a-zA-Z-]*)\"", path.read_text()))
    assert {"format", "file", "block", "registrations", "agreement-id", "event"} <= ids, ids
    open_portal(page, portal)
    names = page.evaluate("window.I18N_CHECKS")
    for language in ("zh-Hans", "en"):
        missing = sorted(ids - set(names[language]))
        assert not missing, f"{language}: no name for the checks {missing} in api/static/i18n.js"
    assert all(CJK.search(n) for n in names["zh-Hans"].values())


@pytest.mark.skipif(
    not os.environ.get("IPLEDGER_PORTAL_SCREENSHOT"), reason="set IPLEDGER_PORTAL_SCREENSHOT=docs/portal.png to retake"
)
def test_take_the_readme_screenshot(page: Any, portal: Portal) -> None:
    page.set_viewport_size({"width": 1100, "height": 900})
    open_portal(page, portal)
    drop_file(page, "design-drawing-v1.txt", portal.doc, "text/plain")
    expect(page.locator("#lookup-result")).to_have_attribute("data-state", "registered")
    page.locator("main").evaluate("m => { Array.from(m.children).slice(1).forEach(c => { c.hidden = true; }); }")
    page.screenshot(path=str(ROOT / os.environ["IPLEDGER_PORTAL_SCREENSHOT"]), full_page=True)


# --- the portal in words, in both languages: sizes, headlines, check names and details, agreements, status -----


def test_a_lookup_states_when_and_by_whom_in_both_languages_with_the_real_size(make_page: Any, portal: Portal) -> None:
    record = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}")
    when = shanghai(record["blockTimestamp"])
    zh = make_page("zh-CN")
    open_portal(zh, portal)
    drop_file(zh, "drawing.txt", portal.doc, "text/plain")
    expect(zh.locator("#lookup-headline")).to_have_text(
        f"登记于 {when}（北京时间）由前海门户测试有限公司（参与方 {portal.party_id}）登记"
    )
    expect(zh.locator("#lookup-result .meta").first).to_have_text(f"文件：drawing.txt，{len(portal.doc)} 字节")
    zh.click("#lang-toggle")
    expect(zh.locator("#lookup-headline")).to_have_text(
        f"Registered at {when} (Asia/Shanghai) by Qianhai Portal Test Ltd (party {portal.party_id})"
    )
    # a 200,000-byte file (not registered) is given in binary units with its exact byte count
    en = make_page("en-GB")
    open_portal(en, portal)
    drop_file(en, "scan.bin", os.urandom(200_000))
    expect(en.locator("#lookup-result")).to_have_attribute("data-state", "not-registered")
    expect(en.locator("#lookup-result .meta").first).to_have_text("File: scan.bin, 195 KiB (200,000 bytes)")
    assert not zh.js_errors and not en.js_errors


def test_an_evidence_certificate_verifies_in_chinese_words_with_the_files_real_size(
    make_page: Any, portal: Portal
) -> None:
    cert = portal.get(f"/v1/evidence/0x{portal.content_hash.hex()}/certificate")
    page = make_page("zh-CN")
    open_portal(page, portal)
    page.fill("#cert-text", json.dumps(cert))
    page.set_input_files("#orig-file", files=[{"name": "d.txt", "mimeType": "text/plain", "buffer": portal.doc}])
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "passed")
    expect(page.locator("#verdict")).to_have_text("真实：记录与链上一致，全部检查通过")
    when = shanghai(cert["anchor"]["blockTimestamp"])
    expect(page.locator("#verify-headline")).to_have_text(
        f"登记于 {when}（北京时间）由前海门户测试有限公司（参与方 {portal.party_id}）登记"
    )
    expect(page.locator("li.check[data-name=file] .detail")).to_have_text(
        f"文件（{len(portal.doc)} 字节）的 sha256 哈希与证书的内容哈希一致"
    )
    expect(page.locator("li.check[data-name=block] strong")).to_have_text("区块")
    checks = page.locator("li.check")
    assert checks.count() >= 8
    # every check's name and detail is in Chinese: none is left as the verifier's English
    for name, detail in zip(
        checks.locator("strong").all_inner_texts(), checks.locator(".detail").all_inner_texts(), strict=True
    ):
        assert CJK.search(name), name
        assert CJK.search(detail), detail
    page.click("#lang-toggle")
    expect(page.locator("li.check[data-name=file] .detail")).to_have_text(
        f"sha256 of the file ({len(portal.doc)} bytes) equals the certificate's content hash"
    )
    expect(page.locator("li.check[data-name=block] strong")).to_have_text("Block")
    expect(page.locator("#verify-headline")).to_contain_text(f"Registered at {when} (Asia/Shanghai)")
    # a tampered timestamp fails in words, the time shown as a date in both languages
    cert["anchor"]["blockTimestamp"] += 3600
    page.fill("#cert-text", json.dumps(cert))
    page.click("#verify-button")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "failed")
    expect(page.locator("#failed-checks")).to_contain_text("Block")
    block = portal.ledger.w3.eth.get_block(cert["anchor"]["blockNumber"])
    expect(page.locator("li.check[data-name=block] .detail")).to_contain_text(
        f"time {shanghai(block['timestamp'])} (Asia/Shanghai)"
    )
    page.click("#lang-toggle")
    expect(page.locator("#failed-checks")).to_contain_text("未通过的检查：区块")
    for detail in page.locator("li.check[data-status=failed] .detail").all_inner_texts():
        assert CJK.search(detail), detail  # failures are in words too, with their values
    expect(page.locator("li.check[data-name=block] .detail")).to_contain_text(
        f"时间为 {shanghai(block['timestamp'])}（北京时间）"
    )
    assert not page.js_errors


@dataclass
class Licence:
    agreement_id: str
    asset_id: int
    licensor: Any
    licensor_id: int
    start: int
    end: int


@pytest.fixture(scope="module")
def licence(portal: Portal) -> Iterator[Licence]:
    """An exclusive licence, in force, of a confirmed patent from a university to the portal's firm."""
    uni = account("portal-licensor")
    p_uni = portal.admit(
        uni,
        "87654321",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="示例理工大學",
        nameEn="Example Polytechnic University",
    )
    asset_id = register_asset(portal, uni, p_uni, "201910123456.X", "一种电池隔膜")  # type: ignore[arg-type]
    now = portal.chain.now()
    lic = agree(
        portal,  # type: ignore[arg-type]
        {
            "kind": "licence",
            "assetId": asset_id,
            "licensee": portal.party_id,
            "licenceType": "exclusive",
            "territory": ["CN", "HK"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "percentage", "rate": 250, "currency": "CNY"},
            "documentHash": "0x" + hashlib.sha256(CONTRACT).hexdigest(),
        },
        uni,
        account("portal-firm"),
    )
    yield Licence(lic["agreementId"], asset_id, uni, p_uni, now, now + YEAR)


def terminate(portal: Portal, lic: Licence) -> None:
    deadline = portal.chain.now() + 3600
    typed = portal.client.get(f"/v1/agreements/{lic.agreement_id}/termination", params={"deadline": deadline})
    assert typed.status_code == 200, typed.text
    sigs = [
        {"signer": s.address, "signature": "0x" + eip712.sign(typed.json(), s).hex()}
        for s in (lic.licensor, account("portal-firm"))
    ]
    done = portal.client.post(
        f"/v1/agreements/{lic.agreement_id}/terminate", json={"deadline": deadline, "signatures": sigs}
    )
    assert done.status_code == 200 and done.json()["status"] == "terminated", done.text


def test_an_agreement_from_its_qr_link_its_certificate_and_its_status_in_both_languages(
    make_page: Any, portal: Portal, licence: Licence
) -> None:
    lic = licence
    until = shanghai(lic.end)
    # the agreement certificate's QR code opens /?agreement=<id>: the agreement in words
    zh = make_page("zh-CN")
    open_portal(zh, portal, f"?agreement={lic.agreement_id}")
    result = zh.locator("#agreement-result")
    expect(result).to_have_attribute("data-state", "shown")
    expect(result.locator("#agreement-kind")).to_have_text("独占许可")
    expect(result.locator("#agreement-status")).to_have_attribute("data-status", "effective")
    expect(result.locator("#agreement-status")).to_have_text(f"状态：有效，至 {until}（北京时间）")
    expect(result.locator("[data-field=grantors] td")).to_have_text(f"示例理工大學（参与方 {lic.licensor_id}）")
    expect(result.locator("[data-field=grantees] td")).to_have_text(f"前海门户测试有限公司（参与方 {portal.party_id}）")
    expect(result.locator("[data-field=asset] td")).to_have_text(
        f"中国内地发明专利 CN201910123456.X《一种电池隔膜》（资产编号 {lic.asset_id}）"
    )
    expect(result.locator("[data-field=period] td")).to_have_text(
        f"{shanghai(lic.start)[:10]} → {until[:10]}（北京时间）"
    )
    expect(result.locator("[data-field=territory] td")).to_have_text("中国（CN）、香港（HK）")
    expect(result.locator("[data-field=royalty] td")).to_have_text("净销售额的 2.50%，以 CNY 支付")
    zh.click("#lang-toggle")
    expect(result.locator("#agreement-kind")).to_have_text("exclusive licence")
    expect(result.locator("#agreement-status")).to_have_text(f"Status: in force until {until} (Asia/Shanghai)")
    expect(result.locator("[data-field=grantors] td")).to_have_text(
        f"Example Polytechnic University (party {lic.licensor_id})"
    )
    expect(result.locator("[data-field=asset] td")).to_have_text(
        f"Chinese invention patent CN201910123456.X, \u201c一种电池隔膜\u201d (asset {lic.asset_id})"
    )
    # the title view is one click (and one QR-style link) away, and links back to the agreement
    zh.click("#agreement-title")
    expect(zh).to_have_url(re.compile(rf"/\?asset={lic.asset_id}$"))
    title = zh.locator("#title-result")
    expect(title).to_have_attribute("data-state", "shown")
    expect(title.locator(f"li[data-agreement='{lic.agreement_id}']")).to_contain_text("exclusive licence")
    expect(title.locator("#asset-line")).to_have_text(
        f"Chinese invention patent CN201910123456.X, \u201c一种电池隔膜\u201d (asset {lic.asset_id})"
    )
    zh.locator(f"li[data-agreement='{lic.agreement_id}'] a").click()
    expect(zh.locator("#agreement-result")).to_have_attribute("data-state", "shown")
    zh_title = make_page("zh-CN")
    open_portal(zh_title, portal, f"?asset={lic.asset_id}")
    expect(zh_title.locator("#asset-line")).to_have_text(
        f"中国内地发明专利 CN201910123456.X《一种电池隔膜》（资产编号 {lic.asset_id}）"
    )
    expect(zh_title.locator(f"#title-result li[data-agreement='{lic.agreement_id}']")).to_contain_text(
        f"独占许可 · {shanghai(lic.start)[:10]} → {until[:10]} · 协议 {lic.agreement_id}"
    )

    # the agreement certificate with the signed contract file: authentic, and in force now, in Chinese words
    cert = portal.get(f"/v1/agreements/{lic.agreement_id}/certificate")
    page = make_page("zh-CN")
    open_portal(page, portal)

    def verify() -> None:
        page.fill("#cert-text", json.dumps(cert))
        page.set_input_files("#orig-file", files=[{"name": "c.txt", "mimeType": "text/plain", "buffer": CONTRACT}])
        page.click("#verify-button")
        expect(page.locator("#verdict")).to_have_attribute("data-verdict", "passed")

    verify()
    expect(page.locator("#verdict")).to_have_text("真实：记录与链上一致，全部检查通过")
    expect(page.locator("#verify-headline")).to_have_text(
        f"于 {shanghai(cert['anchor']['blockTimestamp'])}（北京时间）经"
        + "、".join(f"{p['nameZh'] or p['nameEn']}（参与方 {p['partyId']}）" for p in cert["parties"])
        + "签署生效"
    )
    expect(page.locator("#legal-status")).to_have_attribute("data-state", "in_force")
    expect(page.locator("#legal-status")).to_have_text(f"当前法律状态：有效，至 {until}（北京时间）")
    expect(page.locator("li.check[data-name=document] .detail")).to_contain_text(f"（{len(CONTRACT):,} 字节）")
    checks = page.locator("li.check")
    for name, detail in zip(
        checks.locator("strong").all_inner_texts(), checks.locator(".detail").all_inner_texts(), strict=True
    ):
        assert CJK.search(name), name
        assert CJK.search(detail), detail

    # terminated by its parties: still authentic, no longer in force, in both views and both languages
    terminate(portal, lic)
    verify()
    expect(page.locator("#legal-status")).to_have_attribute("data-state", "terminated")
    expect(page.locator("#legal-status")).to_contain_text("当前法律状态：已终止")
    page.click("#lang-toggle")
    expect(page.locator("#verdict")).to_have_text("Authentic: the record matches the chain, every check passed")
    expect(page.locator("#legal-status")).to_contain_text("Legal status now: terminated")
    expect(page.locator("li.check[data-name=document] .detail")).to_contain_text(f"({len(CONTRACT):,} bytes)")
    open_portal(zh, portal, f"?agreement={lic.agreement_id}")
    expect(zh.locator("#agreement-status")).to_have_attribute("data-status", "terminated")
    expect(zh.locator("#agreement-status")).to_contain_text("Status: terminated")
    zh.click("#lang-toggle")
    expect(zh.locator("#agreement-status")).to_contain_text("状态：已终止")
    # a malformed or unknown id is an error, not an empty page
    zh.fill("#agreement-id", "0x1234")
    zh.click("#agreement-button")
    expect(zh.locator("#agreement-result")).to_have_attribute("data-state", "error")
    zh.fill("#agreement-id", "0x" + "ab" * 32)
    zh.click("#agreement-button")
    expect(zh.locator("#agreement-result")).to_have_attribute("data-state", "error")
    assert not zh.js_errors and not page.js_errors


PERSON_EN, PERSON_ZH, PERSON_HKID = "Ho Wing Sze", "何詠詩", "K987654(5)"


def inject_wallet(page: Any, key: Any) -> None:
    """An EIP-1193 provider in the page whose ``eth_signTypedData_v4`` is signed in Python by ``key`` (eth-account):
    the page's code path is the one a real wallet drives."""
    from eth_account.messages import encode_typed_data

    def sign(address: str, typed: str) -> str:
        assert address.lower() == key.address.lower()
        return "0x" + bytes(key.sign_message(encode_typed_data(full_message=json.loads(typed))).signature).hex()

    page.expose_function("pyWalletSign", sign)
    page.add_init_script(
        "window.ethereum = { isTestWallet: true, request: async ({ method, params }) => {"
        f"  if (method === 'eth_requestAccounts' || method === 'eth_accounts') return ['{key.address.lower()}'];"
        "  if (method === 'eth_signTypedData_v4') return await window.pyWalletSign(params[0], params[1]);"
        "  throw new Error('unsupported ' + method); } };"
    )


def test_a_person_sees_their_own_data_and_registrations_with_a_signed_request(
    make_page: Any, portal: Portal, tmp_path: Path
) -> None:
    from eth_account import Account

    from ledger.domain.evidence import sign_single
    from ledger.domain.hashing import public_binding
    from tests.helpers import cli_env, run_cli

    person, stranger = account("portal-person"), account("portal-person-stranger")
    resp = portal.client.post(
        "/v1/parties/individuals",
        headers={"Authorization": "Bearer browser-operator-token"},
        json={
            "jurisdiction": "hksar",
            "idScheme": "hkid",
            "identifier": PERSON_HKID,
            "nameZh": PERSON_ZH,
            "nameEn": PERSON_EN,
            "consent": "I consent to the processing described in docs/privacy.md",
            "accounts": [person.address],
        },
    )
    assert resp.status_code == 201, resp.text
    pid = int(resp.json()["partyId"])
    content = hash_bytes(b"a lamp design drawn by a Hong Kong designer", HashAlgorithm.SHA256)
    binding = public_binding(content, pid, HashAlgorithm.SHA256)
    domain = eip712.Domain(portal.ledger.manifest.chain_id, portal.ledger.manifest.address("EvidenceRegistry"))
    nonce = portal.get(f"/v1/accounts/{person.address}")["nonce"]
    req = sign_single(person, domain, binding=binding, algorithm=1, nonce=nonce, deadline=portal.chain.now() + 3600)
    resp = portal.client.post(
        "/v1/evidence",
        json={
            "binding": "0x" + binding.hex(),
            "partyId": pid,
            "algorithm": "sha256",
            "registrant": person.address,
            "nonce": nonce,
            "deadline": req.deadline,
            "signature": "0x" + req.signature.hex(),
        },
    )
    assert resp.status_code == 202, resp.text
    assert portal.ledger.pipeline.drain()
    portal.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    portal.ledger.index.sync()

    page = make_page("en-GB")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    inject_wallet(page, person)
    open_portal(page, portal)
    page.fill("#mine-party", str(pid))
    page.click("#mine-button")
    result = page.locator("#mine-result")
    expect(result).to_have_attribute("data-state", "shown")
    expect(result.locator("[data-field=name] td")).to_have_text(f"{PERSON_EN} / {PERSON_ZH}")
    expect(result.locator("[data-field=document] td")).to_have_text("HKID K••••••(5)")  # masked: docs/portal.md
    expect(result.locator("[data-field=consent] td")).to_contain_text("docs/privacy.md")
    item = result.locator(f"#mine-registrations li[data-binding='0x{binding.hex()}']")
    expect(item).to_be_visible()
    expect(item.locator("a").first).to_have_attribute(
        "href", f"/v1/evidence/0x{binding.hex()}/certificate?partyId={pid}"
    )
    public = portal.get(f"/v1/evidence/0x{binding.hex()}/certificate?partyId={pid}")
    assert public["registrant"]["partyId"] == pid and PERSON_EN not in json.dumps(public)
    with page.expect_download() as dl:
        item.locator("button.named").click()
    named = json.loads(Path(dl.value.path()).read_text())
    assert named["holder"]["nameEn"] == PERSON_EN and named["evidence"]["binding"] == "0x" + binding.hex()
    page.click("#lang-toggle")
    expect(result.locator("[data-field=name] th")).to_have_text("姓名")
    expect(result.locator("[data-field=name] td")).to_have_text(f"{PERSON_ZH} / {PERSON_EN}")
    assert not page.js_errors
    assert not any(PERSON_EN in line or "987654" in line for line in console), console

    # a request signed by another key is refused, in both languages, and shows nothing
    other = make_page("zh-CN")
    inject_wallet(other, stranger)
    open_portal(other, portal)
    other.fill("#mine-party", str(pid))
    other.click("#mine-button")
    error = other.locator("#mine-error")
    expect(error).to_have_attribute("data-error", "refused")
    expect(error).to_contain_text(f"签名并非第 {pid} 号当事人账户所作")
    other.click("#lang-toggle")
    expect(error).to_contain_text(f"it is not signed by an account of party {pid}")
    expect(other.locator("#mine-result")).not_to_contain_text(PERSON_EN)

    # no wallet: the page says so and takes a request signed by the CLI
    keystore = tmp_path / "person.json"
    keystore.write_text(json.dumps(Account.encrypt(person.key, "pw", iterations=2)))
    signed = run_cli(
        "party",
        "personal-data",
        "sign",
        str(pid),
        "--keystore",
        str(keystore),
        "--api-url",
        portal.url,
        env=cli_env(IPLEDGER_KEYSTORE_PASSWORD="pw"),
    )
    assert signed.returncode == 0, signed.stderr
    bare = make_page("en-GB")
    open_portal(bare, portal)
    bare.fill("#mine-party", str(pid))
    bare.click("#mine-button")
    expect(bare.locator("#mine-no-wallet")).to_contain_text("no Ethereum wallet")
    bare.fill("#mine-request", signed.stdout)
    bare.click("#mine-send")
    expect(bare.locator("#mine-result")).to_have_attribute("data-state", "shown")
    expect(bare.locator("#mine-result [data-field=name] td")).to_contain_text(PERSON_EN)
    expect(bare.locator(f"#mine-registrations li[data-binding='0x{binding.hex()}']")).to_contain_text(
        "ipledger party certificate"
    )
    bare.click("#mine-send")  # the same request again: its nonce is spent
    expect(bare.locator("#mine-error")).to_have_attribute("data-error", "expired")
