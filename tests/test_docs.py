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


def _readme_invocations(readme: str) -> list[list[str]]:
    """Every `ipledger ...` the README shows — in its shell blocks (continuation lines joined, comments dropped,
    inside `$( )` too) and in inline code — as the words that follow `ipledger`, up to the end of the command."""
    import re
    import shlex

    texts = [m.group(1) for m in re.finditer(r"^```(?:sh|shell)\n(.*?)^```", readme, re.M | re.S)]
    texts += [m.group(1).replace("\n", " ") for m in re.finditer(r"(?<!`)`(ipledger [^`]+)`", readme)]
    invocations = []
    for text in texts:
        text = text.replace("\\\n", " ").replace("$(", " ( ")
        for line in text.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.commenters = "#"
            lexer.wordchars += "<>…:,/.@=-"
            try:
                words = list(lexer)
            except ValueError:  # an unbalanced quote in prose: the words up to it are still checked
                continue
            for i, word in enumerate(words):
                if word == "ipledger":
                    rest = []
                    for w in words[i + 1 :]:
                        if w in {"|", "(", ")", "&&", "||", ";", ">", "<"} or w.startswith("#"):
                            break
                        rest.append(w)
                    invocations.append(rest)
    return invocations


def test_every_command_and_option_the_readme_shows_exists() -> None:
    from typer.main import get_command

    from cli.main import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    invocations = _readme_invocations(readme)
    assert len(invocations) > 40, "the README's ipledger commands were not found"
    root = get_command(app)
    problems = []
    for words in invocations:
        cmd, path = root, ["ipledger"]
        while words and hasattr(cmd, "commands") and words[0] in cmd.commands:
            cmd = cmd.commands[words[0]]
            path.append(words.pop(0))
        if hasattr(cmd, "commands"):
            if words and not words[0].startswith("-"):
                problems.append(f"`{' '.join(path)} {words[0]}`: no such command")
            continue
        known = {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
        for word in words:
            name = word.split("=", 1)[0]
            if name.startswith("-") and name not in known and name != "--":
                problems.append(f"`{' '.join(path)}` has no option {name}")
    assert not problems, "README shows what the CLI does not have:\n" + "\n".join(sorted(set(problems)))
