"""Compiles the contracts with py-solc-x and writes the committed artifacts.

The compiler version and settings are pinned here; the artifacts record them. The binary is resolved
in this order: ``$SOLC_BINARY``; a py-solc-x-installed solc of the pinned version; the npm solcjs behind
``scripts/solc-shim.js``, which answers py-solc-x like a native solc.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError
from solcx.install import get_executable

from ledger.errors import ArtifactsOutOfDate, CompilationError, ToolchainError

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 1_000
REMAPPINGS = ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
BUILD_INFO = "_build.json"


@dataclass(frozen=True)
class CompileResult:
    artifacts: dict[str, dict[str, Any]]
    build_info: dict[str, Any]


def compiler_settings() -> dict[str, Any]:
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": EVM_VERSION,
        "remappings": REMAPPINGS,
        "metadata": {"bytecodeHash": "ipfs"},
        "outputSelection": {
            "*": {
                "*": [
                    "abi",
                    "evm.bytecode.object",
                    "evm.deployedBytecode.object",
                    "evm.deployedBytecode.immutableReferences",
                    "metadata",
                ]
            },
        },
    }


def resolve_solc_binary(root: Path = REPO_ROOT) -> Path:
    """The solc executable to hand to py-solc-x."""
    env = os.environ.get("SOLC_BINARY")
    if env:
        path = Path(env)
        if not path.exists():
            raise ToolchainError(f"SOLC_BINARY={env} does not exist")
        return path
    try:
        installed = {str(v) for v in solcx.get_installed_solc_versions()}
    except Exception:  # noqa: BLE001 - py-solc-x's install folder may not exist; that only means "none installed"
        installed = set()
    if SOLC_VERSION in installed:
        return Path(get_executable(SOLC_VERSION))
    shim = root / "scripts" / "solc-shim.js"
    if not (root / "node_modules" / "solc").is_dir():
        raise ToolchainError("no solc found: set SOLC_BINARY, or run `npm ci` so the solcjs shim can be used")
    if shutil.which("node") is None:
        raise ToolchainError("no solc found and `node` is not on PATH for the solcjs shim")
    return shim


def _sources(root: Path) -> dict[str, Path]:
    contracts = root / "contracts"
    if not contracts.is_dir():
        raise ToolchainError(f"{contracts} not found: compiling needs a source checkout")
    return {p.relative_to(root).as_posix(): p for p in sorted(contracts.rglob("*.sol"))}


def compile_contracts(root: Path = REPO_ROOT) -> CompileResult:
    sources = _sources(root)
    solc = resolve_solc_binary(root)
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text(encoding="utf-8")} for name, path in sources.items()},
        "settings": compiler_settings(),
    }
    try:
        version = str(solcx.wrapper.get_solc_version(solc, with_commit_hash=True))
        output = solcx.compile_standard(std_input, base_path=str(root), allow_paths=[str(root)], solc_binary=solc)
    except SolcError as exc:
        raise CompilationError(_first_error(exc)) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ToolchainError(f"running solc ({solc}) failed: {exc}") from None
    if not version.startswith(SOLC_VERSION):
        raise ToolchainError(f"solc {version} found, {SOLC_VERSION} is pinned")

    artifacts: dict[str, dict[str, Any]] = {}
    all_source_hashes: dict[str, str] = {}
    for unit, meta in sorted(json.loads(_any_metadata(output))["sources"].items()):
        all_source_hashes[unit] = meta["keccak256"]
    for unit, contracts in sorted(output["contracts"].items()):
        if not unit.startswith("contracts/"):
            continue
        for name, out in sorted(contracts.items()):
            bytecode = out["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # interfaces and abstract contracts
            metadata = json.loads(out["metadata"])
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "abi": out["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                "immutableReferences": out["evm"]["deployedBytecode"].get("immutableReferences", {}),
                "metadata": metadata,
                "sourceHashes": {u: m["keccak256"] for u, m in sorted(metadata["sources"].items())},
                "compiler": {"version": version, "settings": _recorded_settings()},
            }
    digest = hashlib.sha256()
    for name in sorted(artifacts):
        digest.update(_dump(artifacts[name]).encode())
    build_info = {
        "artifactVersion": digest.hexdigest()[:16],
        "compiler": {"version": version, "settings": _recorded_settings()},
        "sourceHashes": all_source_hashes,
        "contracts": sorted(artifacts),
    }
    return CompileResult(artifacts=artifacts, build_info=build_info)


def write_artifacts(result: CompileResult, out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    expected = {f"{n}.json" for n in result.artifacts} | {BUILD_INFO}
    for stale in out_dir.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    for name, artifact in result.artifacts.items():
        path = out_dir / f"{name}.json"
        _atomic_write(path, _dump(artifact))
        written.append(path)
    path = out_dir / BUILD_INFO
    _atomic_write(path, _dump(result.build_info))
    written.append(path)
    return written


def check_artifacts(result: CompileResult, out_dir: Path = ARTIFACTS_DIR) -> None:
    """Raises :class:`ArtifactsOutOfDate` naming every artifact that differs from ``result``."""
    differing = []
    expected = {f"{n}.json": _dump(a) for n, a in result.artifacts.items()}
    expected[BUILD_INFO] = _dump(result.build_info)
    for filename, text in sorted(expected.items()):
        path = out_dir / filename
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            differing.append(filename)
    for path in out_dir.glob("*.json"):
        if path.name not in expected:
            differing.append(path.name)
    if differing:
        raise ArtifactsOutOfDate(
            "committed artifacts differ from the sources: " + ", ".join(differing) + " (run `ipledger compile`)",
            details={"differing": differing},
        )


def _recorded_settings() -> dict[str, Any]:
    settings = compiler_settings()
    settings.pop("outputSelection")
    return settings


def _any_metadata(output: dict[str, Any]) -> str:
    for contracts in output["contracts"].values():
        for out in contracts.values():
            return str(out["metadata"])
    raise CompilationError("the compiler produced no contracts")


def _first_error(exc: SolcError) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return "\n".join(lines[:4]) if lines else "solc failed"


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
