"""The compiler toolchain: the solcjs shim answers like native solc, and `compile --check` catches drift."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.chain import compiler
from ledger.errors import ArtifactsOutOfDate, CompilationError

ROOT = compiler.REPO_ROOT


def test_shim_answers_version_like_native_solc() -> None:
    out = subprocess.run([str(ROOT / "scripts/solc-shim.js"), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("solc, the solidity compiler commandline interface\nVersion: " + compiler.SOLC_VERSION)


def test_shim_prints_only_json_and_accepts_native_flags() -> None:
    std_input = {
        "language": "Solidity",
        "sources": {"A.sol": {"content": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0; contract A {}"}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    out = subprocess.run(
        [str(ROOT / "scripts/solc-shim.js"), "--standard-json", "--allow-paths", str(ROOT), "--base-path", str(ROOT)],
        input=json.dumps(std_input),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["contracts"]["A.sol"]["A"]["abi"] == []


@pytest.fixture(scope="module")
def fresh_compile() -> compiler.CompileResult:
    return compiler.compile_contracts()


def test_committed_artifacts_match_the_sources(fresh_compile: compiler.CompileResult) -> None:
    compiler.check_artifacts(fresh_compile)


def test_artifacts_record_compiler_version_and_settings(fresh_compile: compiler.CompileResult) -> None:
    art = fresh_compile.artifacts["EvidenceRegistry"]
    assert art["compiler"]["version"].startswith(compiler.SOLC_VERSION)
    assert art["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": compiler.OPTIMIZER_RUNS}
    assert art["compiler"]["settings"]["evmVersion"] == compiler.EVM_VERSION
    assert "contracts/EvidenceRegistry.sol" in art["sourceHashes"]


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "contracts", root / "contracts")
    shutil.copytree(ROOT / "scripts", root / "scripts")
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    return root


def test_check_fails_after_a_one_byte_change_to_a_source(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    source = root / "contracts" / "EvidenceRegistry.sol"
    text = source.read_text()
    # one byte: the batch proof limit 64 becomes 65
    assert "MAX_PROOF_LENGTH = 64;" in text
    source.write_text(text.replace("MAX_PROOF_LENGTH = 64;", "MAX_PROOF_LENGTH = 65;"))
    result = compiler.compile_contracts(root)
    with pytest.raises(ArtifactsOutOfDate) as err:
        compiler.check_artifacts(result)
    assert "EvidenceRegistry.json" in err.value.details["differing"]


def test_check_fails_after_a_comment_only_change(tmp_path: Path) -> None:
    """Metadata hashes cover the source text, so even a comment change is caught."""
    root = _copy_tree(tmp_path)
    source = root / "contracts" / "PartyRegistry.sol"
    source.write_text(source.read_text().replace("// SPDX", "//SPDX", 1))
    with pytest.raises(ArtifactsOutOfDate):
        compiler.check_artifacts(compiler.compile_contracts(root))


def test_a_syntax_error_is_reported_as_a_compilation_error(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    (root / "contracts" / "Broken.sol").write_text("pragma solidity ^0.8.0; contract Broken { function }")
    with pytest.raises(CompilationError) as err:
        compiler.compile_contracts(root)
    assert "Broken.sol" in str(err.value)


def test_cli_compile_check_exits_zero_on_main() -> None:
    out = subprocess.run([str(ROOT / ".venv/bin/ipledger"), "compile", "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout


def test_a_solc_installed_by_py_solc_x_is_preferred_to_the_shim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolution order: $SOLC_BINARY, then a py-solc-x installed solc of the pinned version, then the shim.
    The shim stands in for the installed binary here (no download on this machine): py-solc-x knows its
    installs by file name in its install folder."""
    installed = tmp_path / f"solc-v{compiler.SOLC_VERSION}"
    shutil.copy(ROOT / "scripts" / "solc-shim.js", installed)
    installed.chmod(0o755)
    monkeypatch.delenv("SOLC_BINARY", raising=False)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path))
    assert compiler.resolve_solc_binary() == installed
    (tmp_path / installed.name).unlink()
    assert compiler.resolve_solc_binary() == ROOT / "scripts" / "solc-shim.js"
