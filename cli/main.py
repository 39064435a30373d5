"""``ipledger``: the command line of Qianhai IP Ledger. This is the root: it creates the app, registers the
top-level commands and adds one group per module, and :func:`main` (the console script) turns every error into
one line and an exit code.

Every command reads its defaults from ``IPLEDGER_*`` environment variables (see ``docs/configuration.md``);
options override them. Errors print one line to stderr and exit non-zero, never a traceback; a unix time in an
error's message is written as this machine's local time with its zone.

Layout (Typer's one file per command group): shared options, consoles, settings and the API client in
``cli/common.py``; human-readable output in ``cli/render.py``; each group in its own module, owning its
``typer.Typer()``; ``compile``, ``node``, ``deploy`` and ``up`` in ``cli/service.py``. No module imports this one.
"""

from __future__ import annotations

import sys

import click
import typer

from cli import agreements, assets, disputes, evidence, governance, index, journal, keys, parties, service, tsa
from cli.common import err_console
from cli.render import humane_times
from ledger.errors import LedgerError

app = typer.Typer(
    name="ipledger",
    help="Qianhai IP Ledger — evidence of IP creation and IP agreements on an EVM chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Top-level commands, in the order `ipledger --help` lists them (Typer lists commands before groups).
app.command("compile")(service.compile_cmd)
app.command("node")(service.node_cmd)
app.command("deploy")(service.deploy_cmd)
app.command("up")(service.up_cmd)
app.command("serve")(service.serve_cmd)
app.command("worker")(service.worker_cmd)
app.command("certificate")(evidence.certificate_cmd)
app.command("verify")(evidence.verify_cmd)
app.command("verify-case")(disputes.verify_case_cmd)
app.command("powers")(keys.powers_cmd)

# Command groups, each a module owning its typer.Typer() (and its help text).
app.add_typer(keys.app, name="keys")
app.add_typer(parties.app, name="party")
app.add_typer(evidence.app, name="evidence")
app.add_typer(assets.app, name="asset")
app.add_typer(agreements.app, name="agreement")
app.add_typer(disputes.app, name="dispute")
app.add_typer(index.app, name="index")
app.add_typer(journal.app, name="journal")
app.add_typer(governance.app, name="governance")
app.add_typer(tsa.app, name="tsa")


def main() -> None:
    """Console-script entry point: runs the CLI and turns every error into one line and an exit code."""
    from rich.markup import escape

    # typer may bundle its own copy of click; catch the usage errors of both
    exits, usage_errors, aborts = [click.exceptions.Exit], [click.ClickException], [click.exceptions.Abort]
    try:
        from typer._click import exceptions as bundled  # type: ignore[import-not-found]

        for names, into in ((("Exit",), exits), (("ClickException",), usage_errors), (("Abort",), aborts)):
            for name in names:
                if hasattr(bundled, name):
                    into.append(getattr(bundled, name))
    except ImportError:
        pass
    command = typer.main.get_command(app)
    try:
        result = command.main(prog_name="ipledger", standalone_mode=False)
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)  # click returns typer.Exit's code instead of raising it
    except tuple(exits) as exc:
        sys.exit(exc.exit_code)
    except tuple(usage_errors) as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (*aborts, KeyboardInterrupt):
        err_console.print("interrupted")
        sys.exit(130)
    except LedgerError as exc:
        err_console.print(f"[red]error:[/] {escape(humane_times(exc.message))}", highlight=False)
        sys.exit(1)
    except OSError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc.strerror or exc))}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a defect: still one line for the user, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        err_console.print(f"[red]error:[/] unexpected {type(exc).__name__}: {escape(first)}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
