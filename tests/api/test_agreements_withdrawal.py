"""Withdrawal through the API: a party withdraws its consent before execution with its own signed `Withdrawal`
(the API relays it and holds no party key); the proposal can then never be executed, even with every
signature it had collected. Runs on anvil with the module world of test_agreements_bad_input."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.errors import ContractRevert
from tests.api.test_agreements_bad_input import (  # noqa: F401
    World,
    execute,
    onchain_status,
    refused,
    shared_world,
    world,
)
from tests.api.test_agreements_scenario import propose, sign


def _withdraw(w: World, proposal: dict[str, Any], signer: Any, deadline: int | None = None) -> Any:
    api = w.api
    deadline = deadline or api.chain.now() + 600
    aid = proposal["agreementId"]
    typed = api.client.get(f"/v1/agreements/{aid}/withdrawal", params={"deadline": deadline})
    assert typed.status_code == 200, typed.text
    assert typed.json()["primaryType"] == "Withdrawal"
    sig = eip712.sign(typed.json(), signer)
    return api.client.post(
        f"/v1/agreements/{aid}/withdraw",
        json={"deadline": deadline, "signer": signer.address, "signature": "0x" + sig.hex()},
    )


def test_a_party_withdraws_and_the_collected_signatures_can_no_longer_execute(world: World) -> None:
    api, p = world.api, world.p
    proposal = propose(api, world.licence())
    assert all(r.status_code == 200 for r in sign(api, proposal, p.uni, p.y))
    resp = _withdraw(world, proposal, p.y)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "withdrawn" and body["withdrawnBy"] == p.p_y
    assert onchain_status(api, proposal["agreementId"]) == ag.AgreementStatus.WITHDRAWN
    refused(execute(api, proposal["agreementId"]), 409, "agreement_id")
    # and straight to the contract, with the signatures the proposal shows, it is refused too
    shown = api.client.get(f"/v1/agreements/{proposal['agreementId']}").json()
    sigs = [(x["signer"], bytes.fromhex(x["signature"][2:])) for x in shown["signatures"].values()]
    terms = ag.Terms.from_json(shown["terms"])
    with pytest.raises(ContractRevert) as err:
        api.chain.sender.send_call(api.ledger.assets.functions.execute(terms.as_tuple(), sigs))
    assert err.value.name == "AgreementWithdrawnByParty"


def test_a_non_party_cannot_withdraw_and_a_far_deadline_is_refused(world: World) -> None:
    api, p = world.api, world.p
    proposal = propose(api, world.licence())
    refused(_withdraw(world, proposal, p.z), 400, "signer")
    refused(_withdraw(world, proposal, p.y, deadline=api.chain.now() + 400 * 86400), 400, "deadline")
    assert onchain_status(api, proposal["agreementId"]) == 0
