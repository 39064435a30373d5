"""The docs say what the code does: every setting is documented, and the README's commands exist."""

from __future__ import annotations

from pathlib import Path

from ledger.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_configuration_md() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"IPLEDGER_{name.upper()}" not in text]
    assert not missing, f"undocumented settings: {missing}"


def test_the_readme_names_the_two_commands_and_every_cli_command_it_shows_exists() -> None:
    import re

    from typer.main import get_command

    from cli.main import app

    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    root = get_command(app)
    for line in re.findall(r"^\s*ipledger ([a-z-]+(?: [a-z-]+)?)", readme, re.M):
        words = line.split()
        cmd = root.commands.get(words[0])  # type: ignore[attr-defined]
        assert cmd is not None, f"README shows `ipledger {words[0]}`, which does not exist"
        if len(words) > 1 and hasattr(cmd, "commands") and not words[1].startswith("-"):
            assert words[1] in cmd.commands, f"README shows `ipledger {line}`, which does not exist"
