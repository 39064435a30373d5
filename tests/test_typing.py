"""The library, the API and the CLI type-check under the mypy configuration in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_library_api_and_cli_type_check() -> None:
    # mypy keeps its cache in .mypy_cache, so a run after the first only rechecks what changed
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "ledger", "api", "cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(f"mypy reports errors:\n{result.stdout}{result.stderr}", pytrace=False)
