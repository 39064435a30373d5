"""The README runs as written: every ```sh block of README.md, literally and in order, each with `bash -e`, in one
empty directory, against an `ipledger up` of the test's own (its own ports on 127.0.0.1, its own data directory,
anvil embedded).

The convention (also stated in a comment at the top of the README's walkthrough): ```sh blocks are run; ```shell
blocks are shown, not run (`make run` in its own terminal, placeholder paths, other machines). The service is
reached the way the README tells a reader to reach `make run`'s: IPLEDGER_API_URL, IPLEDGER_RPC_URL and
IPLEDGER_DATA_DIR (the operator's token), with the virtualenv's `ipledger` and `python` first on the PATH.

As in one terminal, shell variables, `export`s, functions and the working directory carry from one block to the
next: each block's bash writes them to a state file the next block's bash reads. A failure names the block, the
README line and the command, with the block's output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.conftest import UpProcess
from tests.helpers import cli_env

ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 240.0  # seconds; the longest block (licensing) runs about 25 commands

_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)

# Runs one block: restores the previous blocks' state, sources the block under `set -e` with an ERR trap naming
# the README line, then saves the state (variables new since a fresh shell, exported variables, functions, cwd).
_DRIVER = r"""
__state=$1 __block=$2 __first=$3 __source=$4
compgen -v | sort > "$__state.baseline"
[ -f "$__state" ] && . "$__state"
set -e
trap '__rc=$?; echo "$__source line $((__first + LINENO - 1)) (block $__block) failed with exit $__rc: $BASH_COMMAND" >&2' ERR
. "$__state.block"
trap - ERR
set +e
{
  for __v in $(compgen -v | sort | comm -23 - "$__state.baseline"); do
    case $__v in __*|BASH*|FUNCNAME|PIPESTATUS|_) ;; *) declare -p "$__v" 2>/dev/null | grep -v '^declare -[a-zA-Z]*r' ;; esac
  done
  declare -px | grep -v '^declare -[a-zA-Z]*r'
  declare -f
  printf 'cd %q\n' "$PWD"
} > "$__state.new" && mv "$__state.new" "$__state"
"""


@dataclass(frozen=True)
class Block:
    number: int  # 1-based, counting ```sh blocks only
    line: int  # README line of the block's first command line
    code: str


def sh_blocks(markdown: str) -> list[Block]:
    """The ```sh blocks of ``markdown``, in order, with the line each starts on."""
    blocks = []
    for m in _FENCE.finditer(markdown):
        if m.group(1) == "sh":
            line = markdown.count("\n", 0, m.start(2)) + 1
            blocks.append(Block(len(blocks) + 1, line, m.group(2)))
    return blocks


@dataclass
class Failure:
    block: Block
    message: str


def run_blocks(
    blocks: list[Block],
    workdir: Path,
    env: dict[str, str],
    *,
    source: str = "README.md",
    timeout: float = BLOCK_TIMEOUT,
) -> Failure | None:
    """Runs ``blocks`` in order in ``workdir``; the first failure (exit, or timeout), else None."""
    state = workdir.parent / f"{workdir.name}.shell-state"
    driver = workdir.parent / f"{workdir.name}.driver.sh"
    driver.write_text(_DRIVER)
    for block in blocks:
        Path(f"{state}.block").write_text(block.code)
        proc = subprocess.Popen(
            ["bash", str(driver), str(state), str(block.number), str(block.line), source],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return Failure(block, f"{source} block {block.number} (line {block.line}) ran over {timeout:.0f} s\n{out}")
        if proc.returncode != 0:
            return Failure(block, f"{source} block {block.number} (line {block.line}), exit {proc.returncode}:\n{out}")
    return None


def shell_env(**settings: str) -> dict[str, str]:
    """A terminal with the virtualenv activated: its bin first on the PATH, no IPLEDGER_* but ``settings``."""
    venv = Path(sys.executable).parent.parent
    env = cli_env(**settings)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_blocks_share_state_and_a_failure_names_its_readme_line(tmp_path: Path) -> None:
    text = (
        "intro\n\n```shell\nexit 1   # shown, not run\n```\n\n"
        "```sh\nexport GREETING=hello\nNAME=$(printf world)\nmkdir sub && cd sub\n```\n\n"
        '```sh\ntest "$GREETING $NAME" = \'hello world\'\ntest "$(basename "$PWD")" = sub\n'
        "false\necho not reached\n```\n"
    )
    blocks = sh_blocks(text)
    assert [(b.number, b.line) for b in blocks] == [(1, 8), (2, 14)]
    work = tmp_path / "work"
    work.mkdir()
    failure = run_blocks(blocks, work, shell_env(), source="T.md")
    assert failure is not None and failure.block.number == 2
    assert "T.md line 16 (block 2) failed with exit 1: false" in failure.message, failure.message
    assert "not reached" not in failure.message


def test_a_block_that_hangs_is_stopped(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    failure = run_blocks(sh_blocks("```sh\nsleep 60\n```\n"), work, shell_env(), timeout=1)
    assert failure is not None and "ran over 1 s" in failure.message


@pytest.mark.slow
def test_the_readme_walkthrough_runs_as_written_from_an_empty_directory(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocks = sh_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4, "README.md has no ```sh blocks to run"
    p: UpProcess = up(
        env={
            "IPLEDGER_CONFIRMATIONS": "0",
            "IPLEDGER_FINAL_AFTER": "0",
            "IPLEDGER_GOVERNANCE_DELAY": "1",
            "IPLEDGER_BATCH_INTERVAL": "0.3",
        }
    )
    p.wait_healthy()
    work = tmp_path / "walkthrough"
    work.mkdir()
    env = shell_env(
        IPLEDGER_API_URL=p.api,
        IPLEDGER_RPC_URL=f"http://127.0.0.1:{p.node_port}",
        IPLEDGER_DATA_DIR=str(p.data_dir),
    )
    failure = run_blocks(blocks, work, env)
    assert failure is None, f"{failure.message}\n--- ipledger up ---\n{p.output()}"
    # what the walkthrough says it leaves behind
    for name in ("drawing.dwg.certificate.json", "cert.pdf", "licence.json", "licence.pdf", "case.zip"):
        assert (work / name).is_file(), name
    p.interrupt()
