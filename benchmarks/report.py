"""Results and the markdown report."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Result:
    """One row of the table.

    ``ratio`` is ``ours / peer`` (``kind="peer"``) or ``ours / limit`` (``kind="limit"``); the target is met when
    ``ratio op target``. For rates measured in several interleaved rounds, ``ours`` and ``peer`` are medians of
    the rounds and ``ratio`` is the median of the per-round ratios (each round runs both side by side).
    """

    key: str
    name: str
    ours: float
    unit: str
    peer: float
    peer_label: str
    kind: str  # "peer" or "limit"
    op: str  # "<=" or ">="
    target: float
    ratio: float | None = None
    rounds: list[float] = field(default_factory=list)
    note: str = ""
    stat: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None:
            self.ratio = self.ours / self.peer if self.peer else math.inf

    @property
    def met(self) -> bool:
        assert self.ratio is not None
        return self.ratio <= self.target if self.op == "<=" else self.ratio >= self.target

    def target_text(self) -> str:
        sym = "≤" if self.op == "<=" else "≥"
        if self.kind == "limit":
            return f"{sym} {fmt(self.peer)} {self.unit}"
        return f"{sym} {self.target:g}× peer"


def ratio_result(
    key: str,
    name: str,
    unit: str,
    peer_label: str,
    op: str,
    target: float,
    pairs: list[tuple[float, float]],
    note: str = "",
    stat: str = "median",
) -> Result:
    """A peer comparison of rates (higher is better) from interleaved rounds of (ours, peer) run side by side.

    ``stat="median"``: the median of the per-round ratios (each round pairs both under the same conditions).
    ``stat="best"``: each side's best round, the least disturbed by other load (CPU-bound measures).
    """
    ratios = [o / p for o, p in pairs]
    if stat == "best":
        ours, peer = max(o for o, _ in pairs), max(p for _, p in pairs)
        ratio = ours / peer
    else:
        ours, peer = statistics.median(o for o, _ in pairs), statistics.median(p for _, p in pairs)
        ratio = statistics.median(ratios)
    return Result(
        key,
        name,
        ours=ours,
        unit=unit,
        peer=peer,
        peer_label=peer_label,
        kind="peer",
        op=op,
        target=target,
        ratio=ratio,
        rounds=ratios,
        note=note,
        stat=stat,
    )


def fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def table(results: list[Result]) -> str:
    lines = [
        "| # | measure | ours | peer or limit | ratio | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.kind == "limit":
            peer = f"limit {fmt(r.peer)} {r.unit}" + (f"; {r.peer_label}" if r.peer_label else "")
        else:
            peer = f"{fmt(r.peer)} {r.unit} ({r.peer_label})"
        rounds = ""
        if len(r.rounds) > 1:
            how = "best of each" if r.stat == "best" else "median of rounds"
            rounds = f" <br>({how}; per-round: " + ", ".join(f"{x:.3g}" for x in r.rounds) + ")"
        lines.append(
            f"| {r.key} | {r.name} | {fmt(r.ours)} {r.unit} | {peer} | **{r.ratio:.3g}×**{rounds} | "
            f"{r.target_text()} | {'yes' if r.met else '**no**'} |"
        )
    return "\n".join(lines)
