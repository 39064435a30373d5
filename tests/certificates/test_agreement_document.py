"""The agreement certificate's document rules (docs/agreements.md "The document"), offline: the committed licence
certificate of docs/conformance/ parses, and each rule broken alone is refused naming its field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.certificates import agreement as agreement_certificate
from ledger.certificates.evidence import CertificateMalformed

LICENCE = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "conformance" / "certificates" / "licence.json").read_text()
)


def _without(path: str) -> Any:
    return ("delete", path)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("version", True, "version"),
        ("version", 1.0, "version"),
        ("agreement.kind", "sale", "agreement.kind"),
        ("agreement.terms.kind", True, "agreement.terms.kind"),
        ("agreement.terms.kind", "2", "agreement.terms.kind"),
        ("agreement.terms.sublicensable", 0, "agreement.terms.sublicensable"),
        ("agreement.terms.licenceType", 4, "agreement.terms.licenceType"),
        ("agreement.terms.territory", "0xZZ", "agreement.terms.territory"),
        ("agreement.terms.territory", 3, "agreement.terms.territory"),
        ("agreement.terms.grantees", [True], "agreement.terms.grantees[0]"),
        ("agreement.terms.start", -1, "agreement.terms.start"),
        ("agreement.terms.salt", "0x12", "agreement.terms.salt"),
        ("agreement.details", [], "agreement.details"),
        ("signatures", [], "signatures"),
        ("chain.chainId", 2**63, "chain.chainId"),
        ("anchor.blockHash", "0x" + "AB" * 32, "anchor.blockHash"),
        ("agreement.terms.salt", _without, "agreement.terms.salt"),
        ("agreement.details", _without, "agreement.details"),
        ("parties", _without, "parties"),
        ("anchor.blockTimestamp", _without, "anchor.blockTimestamp"),
    ],
)
def test_each_rule_broken_alone_is_refused_naming_its_field(path: str, value: Any, field: str) -> None:
    agreement_certificate.parse(copy.deepcopy(LICENCE))  # the genuine document
    doc = copy.deepcopy(LICENCE)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[key]
    if value is _without:
        del target[last]
    else:
        target[last] = value
    with pytest.raises(CertificateMalformed) as err:
        agreement_certificate.parse(doc)
    assert err.value.field == field, err.value.message


def test_parties_name_exactly_the_signers_once() -> None:
    extra = copy.deepcopy(LICENCE)
    extra["parties"].append({**extra["parties"][0], "partyId": 999})
    twice = copy.deepcopy(LICENCE)
    twice["signatures"].append(twice["signatures"][0])
    for doc, field in ((extra, "parties"), (twice, "signatures")):
        with pytest.raises(CertificateMalformed) as err:
            agreement_certificate.parse(doc)
        assert err.value.field == field


def test_unknown_members_are_ignored() -> None:
    doc = copy.deepcopy(LICENCE)
    doc["note"] = "added by the holder"
    doc["agreement"]["note"] = 1
    agreement_certificate.parse(doc)
