"""Slither over contracts/, through the project's own compiler; every high or medium result is explained.

Guarantees:
- The contracts are compiled by the binary ``ledger.chain.compiler.resolve_solc_binary`` chooses (the pinned
  native solc, or the npm solcjs behind scripts/solc-shim.js), with the project's own settings (optimizer runs,
  EVM version, remappings): crytic-compile's standard-json platform runs that binary on a Standard JSON input
  built here. Nothing is downloaded (solc-select is never asked for a compiler).
- Slither runs its default detectors. Results whose source lies under node_modules/@openzeppelin or
  node_modules/@safe-global are left out (audited dependencies); inline ``slither-disable`` comments, a
  slither.config.json or a triage database are NOT honoured (``--show-ignored-findings``, an empty config file):
  the table in docs/security.md, section "Static analysis (Slither)", is the only place a result is accepted,
  one row per result with the reason it is a false positive or accepted.
- The test fails on a high or medium result without a row, and on a row whose result no longer occurs, so the
  table stays true. A result is identified by detector, impact, contract, element (function, state variable or
  ``function.local``) and detail (the flagged expression, if any); never by line numbers.

Slither lives in its own virtualenv (.venv-slither, created by ``make install`` from requirements-slither.txt):
slither-analyzer 0.11 requires web3 < 8, and installing it beside the service would change the web3 the service
and its tests run on. ``$IPLEDGER_SLITHER`` names another slither executable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import solcx

from ledger.chain import compiler

ROOT = compiler.REPO_ROOT
SECURITY_MD = ROOT / "docs" / "security.md"
SECTION = "## Static analysis (Slither)"
FILTER_PATHS = "node_modules/(@openzeppelin|@safe-global)/"
REPORTED = ("High", "Medium")
NO_DETAIL = "—"
SLITHER_TIMEOUT_S = 600  # a cold solcjs compile plus the analysis takes well under a minute; generous for load


@dataclass(frozen=True, order=True)
class Finding:
    detector: str
    impact: str
    contract: str
    element: str
    detail: str

    def row(self) -> str:
        cells = [
            f"`{self.detector}`",
            self.impact,
            self.contract,
            f"`{self.element}`",
            f"`{self.detail}`" if self.detail else NO_DETAIL,
        ]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " | <why it is accepted> |"


@dataclass(frozen=True)
class Comparison:
    unexplained: list[Finding]
    stale: list[Finding]

    def failure(self) -> str:
        parts = []
        if self.unexplained:
            parts.append(
                f"{len(self.unexplained)} high/medium Slither result(s) not explained in docs/security.md "
                f'"{SECTION[3:]}": read each in the code, fix it or add a row saying why it is accepted:\n'
                + "\n".join(f.row() for f in self.unexplained)
            )
        if self.stale:
            parts.append(
                f'{len(self.stale)} row(s) of docs/security.md "{SECTION[3:]}" name a result Slither no longer '
                "reports: remove them so the table stays true:\n" + "\n".join(f.row() for f in self.stale)
            )
        return "\n\n".join(parts)


# --- running slither ----------------------------------------------------------------------------------------------


def slither_executable() -> Path:
    env = os.environ.get("IPLEDGER_SLITHER")
    candidates = [Path(env)] if env else [ROOT / ".venv-slither" / "bin" / "slither"]
    if not env and (found := shutil.which("slither")):
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(f"slither not found ({', '.join(map(str, candidates))}): run `make install` (creates .venv-slither)")


def standard_json_input(sources: dict[str, str]) -> dict[str, Any]:
    """The project's compiler settings, asking for what crytic-compile reads (ASTs, bytecode with source maps)."""
    settings = compiler.compiler_settings()
    settings["outputSelection"] = {
        "*": {"*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
    }
    return {"language": "Solidity", "sources": {n: {"content": c} for n, c in sources.items()}, "settings": settings}


def run_slither(root: Path, sources: list[str], work: Path) -> list[dict[str, Any]]:
    """Slither's detector results (all impacts) for the ``sources`` (paths relative to ``root``, where
    crytic-compile also reads them for source mappings), compiled in ``root`` by the project's compiler."""
    solc = compiler.resolve_solc_binary(ROOT)
    version = str(solcx.wrapper.get_solc_version(solc, with_commit_hash=True))
    assert version.startswith(compiler.SOLC_VERSION), f"{solc} is solc {version}, {compiler.SOLC_VERSION} is pinned"
    work.mkdir(parents=True, exist_ok=True)
    contents = {name: (root / name).read_text(encoding="utf-8") for name in sources}
    (work / "input.json").write_text(json.dumps(standard_json_input(contents)), encoding="utf-8")
    (work / "slither.config.json").write_text("{}", encoding="utf-8")
    out = work / "slither.json"
    cmd = [
        str(slither_executable()),
        str(work / "input.json"),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        str(solc),
        "--solc-working-dir",
        str(root),
        "--filter-paths",
        FILTER_PATHS,
        "--show-ignored-findings",
        "--config-file",
        str(work / "slither.config.json"),
        "--fail-none",
        "--disable-color",
        "--json",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=SLITHER_TIMEOUT_S, check=False)
    assert out.exists(), f"slither wrote no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["success"] and not report["error"], f"slither failed: {report['error']}\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, f"slither exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return list(report.get("results", {}).get("detectors", []))


# --- identifying results ------------------------------------------------------------------------------------------


def _owner(element: dict[str, Any]) -> tuple[str, str]:
    """(contract, element path) of a Slither result element: ``fn``, ``stateVar`` or ``fn.localVar``."""
    names: list[str] = []
    e: dict[str, Any] | None = element
    while e is not None:
        if e.get("type") == "contract":
            return e["name"], ".".join(reversed(names)) or e["name"]
        if e.get("type") != "node":
            names.append(str(e.get("name", "")))
        e = e.get("type_specific_fields", {}).get("parent")
    filename = element.get("source_mapping", {}).get("filename_relative", "?")
    return filename, ".".join(reversed(names))


def finding(result: dict[str, Any]) -> Finding:
    elements = result.get("elements") or [{}]
    contract, element = _owner(elements[0])
    nodes = [str(e["name"]) for e in elements if e.get("type") == "node"]
    return Finding(result["check"], result["impact"], contract, element, "; ".join(nodes))


def reported(results: Iterable[dict[str, Any]]) -> set[Finding]:
    return {finding(r) for r in results if r["impact"] in REPORTED}


# --- the explained table ------------------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    return [c[1:-1] if len(c) >= 2 and c.startswith("`") and c.endswith("`") else c for c in cells]


def parse_table(markdown: str) -> dict[Finding, str]:
    """The rows of the section's table: Detector | Impact | Contract | Element | Detail | Why it is accepted."""
    start = markdown.find("\n" + SECTION + "\n")
    assert start >= 0, f'docs/security.md has no section "{SECTION}"'
    body = markdown[start + len(SECTION) + 2 :]
    end = re.search(r"^#{1,2} ", body, re.M)
    rows = [line for line in body[: end.start() if end else None].splitlines() if line.lstrip().startswith("|")]
    assert len(rows) >= 2 and _cells(rows[0])[:6] == [
        "Detector",
        "Impact",
        "Contract",
        "Element",
        "Detail",
        "Why it is accepted",
    ], f"unexpected table header: {rows[:1]}"
    table: dict[Finding, str] = {}
    for line in rows[2:]:
        cells = _cells(line)
        assert len(cells) == 6, f"a row of the Slither table does not have 6 cells: {line}"
        detector, impact, contract, element, detail, why = cells
        key = Finding(detector, impact, contract, element, "" if detail == NO_DETAIL else detail)
        assert key not in table, f"the Slither table names a result twice: {line}"
        assert len(why) >= 20, f"a row of the Slither table gives no reason: {line}"
        table[key] = why
    return table


def compare(found: set[Finding], explained: Iterable[Finding]) -> Comparison:
    explained = set(explained)
    return Comparison(unexplained=sorted(found - explained), stale=sorted(explained - found))


# --- tests --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract_results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One Slither run over contracts/ for the module."""
    return run_slither(ROOT, sorted(compiler._sources(ROOT)), tmp_path_factory.mktemp("slither"))


def test_every_high_or_medium_slither_result_is_explained_in_security_md(
    contract_results: list[dict[str, Any]],
) -> None:
    analysed = {
        e["source_mapping"]["filename_relative"]
        for r in contract_results
        for e in r["elements"]
        if "source_mapping" in e
    }
    assert any(f.startswith("contracts/") for f in analysed), "slither reported nothing about contracts/"
    assert not any(re.search(FILTER_PATHS, f) for f in analysed), "dependency results were not filtered"
    result = compare(reported(contract_results), parse_table(SECURITY_MD.read_text(encoding="utf-8")))
    assert not (result.unexplained or result.stale), result.failure()


FLAWED = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

contract Flawed {
    mapping(address => uint256) private credit;
    address private owner;

    function paidInFull() external view returns (bool) {
        return address(this).balance == 100;
    }

    function take() external {
        payable(owner).transfer(credit[msg.sender]);
    }
}
"""


def test_a_new_result_without_a_row_fails_and_a_row_without_a_result_is_reported(tmp_path: Path) -> None:
    """The same run and comparison on a deliberately flawed contract: what the suite's check would say."""
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Flawed.sol").write_text(FLAWED, encoding="utf-8")
    results = run_slither(tmp_path, ["contracts/Flawed.sol"], tmp_path / "work")
    found = reported(results)
    equality = Finding("incorrect-equality", "Medium", "Flawed", "paidInFull", "address(this).balance == 100")
    uninitialised = Finding("uninitialized-state", "High", "Flawed", "owner", "")
    assert {equality, uninitialised} <= found, sorted(found)

    gone = Finding("incorrect-equality", "Medium", "Flawed", "removedLongAgo", "x == 0")
    result = compare(found, [uninitialised, gone])
    assert equality in result.unexplained and uninitialised not in result.unexplained
    assert result.stale == [gone]
    message = result.failure()
    assert "not explained in docs/security.md" in message and "address(this).balance == 100" in message
    assert "no longer reports" in message and "removedLongAgo" in message


def test_the_table_parser_reads_escaped_pipes_and_empty_details() -> None:
    doc = (
        "# Security\n\n" + SECTION + "\n\nText.\n\n"
        "| Detector | Impact | Contract | Element | Detail | Why it is accepted |\n"
        "|---|---|---|---|---|---|\n"
        "| `incorrect-equality` | Medium | E | `_root` | `a == 1 \\|\\| b == c` | the tree index arithmetic, no time |\n"
        "| `uninitialized-state` | High | E | `_records` | — | written by one packed sstore in assembly |\n"
        "\n## Next section\n\n| Detector | x |\n"
    )
    table = parse_table(doc)
    assert set(table) == {
        Finding("incorrect-equality", "Medium", "E", "_root", "a == 1 || b == c"),
        Finding("uninitialized-state", "High", "E", "_records", ""),
    }
    with pytest.raises(AssertionError, match="no reason"):
        parse_table(doc.replace("written by one packed sstore in assembly", "ok"))
