"""The shape of the `ipledger` command and of the `cli` package: every command and option of the committed
snapshot (tests/cli/commands.json) exists, and the package is a tree — groups import cli.common and cli.render,
the root cli.main imports the groups, nothing imports the root, no `_private` name crosses a module, and the API
is imported only inside the command that starts the server.

The snapshot lists every command path with its options (all their spellings) and arguments (``<name>``). A command
or option lost in a change fails here; one added must be added to the snapshot too, on purpose.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "cli"
SNAPSHOT = Path(__file__).with_name("commands.json")


def _params(command: Any) -> list[str]:
    out = []
    for p in command.params:
        if p.param_type_name == "argument":
            out.append(f"<{p.name}>")
        else:
            out.append(" ".join(sorted([*p.opts, *p.secondary_opts])))
    return sorted(out)


def _tree(command: Any, path: str, into: dict[str, list[str]]) -> dict[str, list[str]]:
    into[path] = _params(command)
    for name, sub in getattr(command, "commands", {}).items():
        _tree(sub, f"{path} {name}", into)
    return into


def _commands() -> dict[str, list[str]]:
    from typer.main import get_command

    from cli.main import app

    return _tree(get_command(app), "ipledger", {})


def test_every_command_and_option_of_the_snapshot_exists() -> None:
    snapshot: dict[str, list[str]] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    live = _commands()
    lost = [path for path in snapshot if path not in live]
    assert not lost, f"commands lost: {lost}"
    lost_params = {path: sorted(set(params) - set(live[path])) for path, params in snapshot.items()}
    assert not any(lost_params.values()), f"options or arguments lost: { {k: v for k, v in lost_params.items() if v} }"
    new = {path: sorted(set(params) - set(snapshot.get(path, []))) for path, params in live.items()}
    new = {k: v for k, v in new.items() if v or k not in snapshot}
    assert not new, f"commands or options not in tests/cli/commands.json (add them there on purpose): {new}"


def test_the_snapshot_is_not_empty_and_names_every_group() -> None:
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    groups = {path.split()[1] for path in snapshot if len(path.split()) > 1}
    assert {
        "keys",
        "party",
        "evidence",
        "asset",
        "agreement",
        "dispute",
        "index",
        "governance",
        "up",
        "node",
        "deploy",
        "compile",
        "certificate",
        "verify",
        "verify-case",
        "powers",
    } <= groups
    assert "--data-dir" in snapshot["ipledger up"] and "--out -o" in snapshot["ipledger agreement certificate"]


# --- imports between the cli modules -----------------------------------------------------------------


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """Every import in ``path``: (module, names, at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    if_type_checking = [n for n in tree.body if isinstance(n, ast.If)]
    top |= {id(n) for branch in if_type_checking for n in ast.walk(branch)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [a.name for a in node.names]
            found.append((node.module, names, id(node) in top))
            # `from cli import main` names a module
            found += [(f"{node.module}.{n}", [], id(node) in top) for n in names if node.module == "cli"]
    return found


def _cli_modules() -> dict[str, Path]:
    return {f"cli.{p.stem}": p for p in sorted(CLI.glob("*.py")) if p.stem != "__init__"}


def _cli_graph() -> dict[str, set[str]]:
    modules = _cli_modules()
    return {name: {m for m, _, _ in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_cli_module_imports_the_root() -> None:
    importers = [name for name, deps in _cli_graph().items() if "cli.main" in deps]
    assert not importers, f"{importers} import cli.main: the root imports the groups, never the other way round"


def test_the_cli_modules_import_each_other_without_a_cycle() -> None:
    graph = _cli_graph()
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            pytest.fail(f"import cycle: {' -> '.join([*stack[stack.index(node) :], node])}")
        if node in done:
            return
        for dep in sorted(graph[node]):
            visit(dep, [*stack, node])
        done.add(node)

    for name in graph:
        visit(name, [])
    assert "cli.main" in graph and len(graph) >= 10


def test_no_private_name_is_imported_across_cli_modules() -> None:
    crossing = [
        f"{name} imports {module}.{n}"
        for name, path in _cli_modules().items()
        for module, names, _ in _imports(path)
        if module.startswith(("cli", "ledger", "api"))
        for n in names
        if n.startswith("_")
    ]
    assert not crossing, crossing


def test_the_api_is_imported_only_inside_the_commands_that_start_the_server() -> None:
    where = [
        (name, module, top)
        for name, path in _cli_modules().items()
        for module, _, top in _imports(path)
        if module == "api" or module.startswith("api.")
    ]
    # `up` and `serve`, each inside its function
    assert where == [("cli.service", "api.app", False)] * 2, where
