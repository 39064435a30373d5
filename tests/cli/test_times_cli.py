"""Times in the CLI's words are this machine's local time with its zone, in error messages too; unix seconds only
in --json output."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from cli.render import humane_times, local_time
from ledger.domain import agreements as ag
from ledger.errors import InvalidInput
from tests.cli.test_hashing_cli import Recorder, api  # noqa: F401 - the fixture
from tests.helpers import cli_env, run_cli

LOCAL = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+"


def test_local_time_names_the_zone() -> None:
    ts = 1767225600
    assert local_time(ts) == datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S ") + (
        datetime.fromtimestamp(ts).astimezone().strftime("%Z")
        or datetime.fromtimestamp(ts).astimezone().strftime("UTC%z")
    )
    assert local_time(None) == "—" and local_time(0) == "—"


def test_unix_times_in_messages_become_local_times_and_other_numbers_stay() -> None:
    now = int(time.time())
    with pytest.raises(InvalidInput) as refused:
        ag.check_signing_window(now + 10**8, now)
    said = humane_times(refused.value.message)
    assert str(now + ag.MAX_SIGNING_WINDOW) not in said
    assert re.search(rf"latest now: {LOCAL}\)", said), said
    said = humane_times("the recovery of party 3 can be executed from 1767225600 (unix time)")
    assert said == f"the recovery of party 3 can be executed from {local_time(1767225600)}"
    # amounts, ids and blocks are not times
    plain = "amount 3000000000 CNY, block 1767225600, party 1767225600"
    assert humane_times(plain) == plain


def test_an_api_error_naming_times_is_printed_with_local_times(api: Recorder) -> None:  # noqa: F811
    api.reply = (
        400,
        {"error": {"message": "the signature's deadline 1767225600 has passed (now 1767229200)", "field": "deadline"}},
    )
    # in Shenzhen's time zone, whatever this machine's is
    out = run_cli("evidence", "show", "ab" * 32, env=cli_env(IPLEDGER_API_URL=api.url, TZ="Asia/Shanghai"))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    line = out.stderr.strip()
    assert "1767225600" not in line and "1767229200" not in line, line
    assert "deadline 2026-01-01 08:00:00 CST has passed (now 2026-01-01 09:00:00 CST)" in line, line
