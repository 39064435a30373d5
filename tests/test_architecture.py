"""The structure the folders promise holds: the import contracts of pyproject.toml (import-linter), ruff's format and
lint rules, and no private name imported across modules (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ("ledger", "api", "cli")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_import_contracts_hold() -> None:
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    if result.returncode != 0:
        pytest.fail(
            f"an import breaks a layer rule of docs/architecture.md:\n{result.stdout}{result.stderr}", pytrace=False
        )
    assert "0 broken" in result.stdout


def test_the_import_contracts_catch_an_upward_import(tmp_path: Path) -> None:
    """The contracts are not vacuous: a domain module that imports a service breaks them."""
    probe = ROOT / "ledger" / "domain" / "_probe_upward_import.py"
    probe.write_text("from ledger.services import parties  # noqa: F401\n", encoding="utf-8")
    try:
        result = _run(str(BIN / "lint-imports"), "--no-cache")
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert "ledger.domain._probe_upward_import -> ledger.services.parties" in result.stdout


def test_the_code_is_formatted_by_ruff() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    if result.returncode != 0:
        pytest.fail(f"`ruff format` would change these files (run `ruff format`):\n{result.stdout}", pytrace=False)


def test_the_code_passes_ruffs_lint_rules() -> None:
    result = _run(str(BIN / "ruff"), "check", "--output-format", "concise", ".")
    if result.returncode != 0:
        pytest.fail(f"ruff reports:\n{result.stdout}{result.stderr}", pytrace=False)


def _private_imports() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}")
    return found


def test_no_private_name_is_imported_across_modules() -> None:
    assert _private_imports() == []
