"""The bilingual (Chinese / English) summary of a case file (``summary.pdf`` in the ZIP that
``ledger.certificates.casefile`` reads): the dispute, then every item in time order with its file name.

It is for reading, not evidence: the items are. Deterministic (the same case gives the same bytes), laid out with
:mod:`ledger.certificates.render.layout` on reportlab's default margins, as it always has been.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, Spacer

from ledger.certificates.render.layout import Row, Styles, document, heading, mixed, register_fonts, table

__all__ = ["render_summary"]


def render_summary(case: dict[str, Any]) -> bytes:
    """A bilingual summary of the case ``case`` (the ``case.json`` of a case file) as an A4 PDF."""
    register_fonts()
    st = Styles()
    d = case["dispute"]
    rows = [
        Row(zh, en, str(v))
        for zh, en, v in (
            ("争议编号", "Dispute", d["disputeId"]),
            ("争议标的", "Subject", f"{d['subject']} {d['subjectId']}"),
            ("申请人 / 被申请人", "Claimant / respondent", f"party {d['claimant']} / party {d['respondent']}"),
            ("仲裁机构", "Institution", f"party {d['institution']}"),
            ("状态", "Status", f"{d['status']} {d.get('outcome') or ''}"),
        )
    ]
    items = [
        Row(
            datetime.fromtimestamp(int(i["time"]), UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"block {i['block']}",
            f"{i['kind']} — {i['file']}",
        )
        for i in case["items"]
    ]
    story: list[Flowable] = [
        Paragraph("仲裁案卷摘要", st.title_zh),
        Paragraph("Case file summary", st.title_en),
        Spacer(0, 6),
        heading("争议", "Dispute", st),
        table(rows, st),
        heading("记录（按时间）", "Records in time order", st),
        table(items or [Row("—", "—", "—")], st),
        Paragraph(mixed("核验：ipledger verify-case case.zip --rpc-url URL"), st.body_zh),
        Paragraph("Verify: ipledger verify-case case.zip --rpc-url URL (each item against the chain).", st.body_en),
    ]
    buf = io.BytesIO()
    document(buf, title="Case file", margin=inch).build(story)
    return buf.getvalue()
