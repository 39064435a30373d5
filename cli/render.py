"""Human-readable output shared by the command groups: times, durations, percentages, party labels, asset lines
and table columns.

Guarantees:
- Pure formatting: nothing here writes to a console; the one helper that asks the API (:class:`PartyLabels`)
  falls back to the bare id when the API cannot say, so output never fails for a label.
- UTC where a time is part of a record's terms, such as a licence's term in days (:func:`fmt_time`, :func:`term`);
  everywhere else this machine's local time with its zone named (:func:`local_time`), in error messages too
  (:func:`humane_times`). Unix seconds appear only in ``--json`` output.
- Imports nothing of the other ``cli`` modules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rich.table import Column

from ledger.errors import LedgerError


def fmt_time(ts: int | None, *, day: bool = False) -> str:
    """Unix seconds in UTC (``—`` for none); with ``day``, a midnight shows as the date alone."""
    if not ts:
        return "—"
    moment = datetime.fromtimestamp(int(ts), tz=UTC)
    return moment.strftime("%Y-%m-%d" if day and moment.time() == datetime.min.time() else "%Y-%m-%d %H:%M:%S UTC")


def term(start: int, end: int) -> str:
    """A term ``start – end`` in UTC days (or times, when not at midnight)."""
    return f"{fmt_time(start, day=True)} – {fmt_time(end, day=True)}"


def pct(bps: int) -> str:
    """Basis points as a percentage: ``2500`` -> ``25%``."""
    return f"{bps / 100:g}%"


def local_time(ts: int | None) -> str:
    """Unix seconds as this machine's local date and time, with its zone (``—`` for none)."""
    if not ts:
        return "—"
    moment = datetime.fromtimestamp(int(ts)).astimezone()
    zone = moment.strftime("%Z") or moment.strftime("UTC%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} {zone}"


# A unix time in a message: ten digits after a word that introduces a moment, optionally followed by "(unix time)".
_MOMENT = re.compile(
    r"\b(?P<word>deadline|now|from|at|until|since|after|before|latest now|time|executableAt|readyAt)"
    r"(?P<sep>:?\s+)(?P<ts>1\d{9})\b(?:\s*\(unix (?:time|seconds)\))?"
)


def humane_times(message: str) -> str:
    """A message (the API's, an error's) with each unix time after a word such as ``deadline``, ``now`` or ``at``
    written as :func:`local_time`; other numbers (amounts, ids, blocks) are left alone."""
    return _MOMENT.sub(lambda m: f"{m['word']}{m['sep']}{local_time(int(m['ts']))}", message)


def span(seconds: int) -> str:
    """A duration in words: ``3 days 4 h``, ``2 h 5 min``, ``40 s``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    return f"{secs} s"


def id_column(header: str) -> Column:
    """A column of 32-byte ids: folded onto several lines when narrow, never cut short with an ellipsis."""
    return Column(header, overflow="fold", min_width=18)


def asset_line(asset: dict[str, Any]) -> str:
    """One line for an asset (as the API gives it): id, jurisdiction, kind, number, title, a claim's status, a freeze."""
    d = asset.get("details") or {}
    frozen = " [FROZEN: open dispute]" if asset.get("frozen") else ""
    status = (
        ""
        if asset.get("status") == "confirmed"
        else f" [{str(asset.get('status', '?')).upper()}: {asset.get('statusNote')}]"
    )
    return f"asset {asset['assetId']}: {asset['jurisdiction']} {asset['kind']} {d.get('number', '?')} “{d.get('title', '')}”{status}{frozen}"


class PartyLabels:
    """Party labels (``#3 Example Bank``) for summaries, one lookup per party."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._cache: dict[int, str] = {}

    def label(self, party_id: int) -> str:
        party_id = int(party_id)
        if party_id not in self._cache:
            try:
                p = self.client.get(f"/v1/parties/{party_id}")
                if isinstance(p.get("naturalPerson"), dict):  # no name on chain: the words that stand for it
                    self._cache[party_id] = f"#{party_id} ({p['naturalPerson'].get('en', 'natural person')})"
                    return self._cache[party_id]
                name = p.get("nameEn") or p.get("nameZh") or p.get("identifier") or ""
                if p.get("nameEn") and p.get("nameZh"):
                    name = f"{p['nameEn']} / {p['nameZh']}"
                self._cache[party_id] = f"#{party_id} {name}".strip()
            except LedgerError:  # a label is cosmetic; the id alone will do
                self._cache[party_id] = f"#{party_id}"
        return self._cache[party_id]

    def labels(self, ids: list[int]) -> str:
        return ", ".join(self.label(i) for i in ids) or "—"
