"""The layout kit shared by every PDF the ledger prints: the evidence certificate (``render.pdf``), the
agreement certificate (``render.agreement``) and the case file summary (``render.casefile``).

What it guarantees:

- Deterministic output: :func:`document` always sets reportlab's ``invariant=1`` (no random document id), dates
  the PDF (``CreationDate``, ``ModDate``) with the ``issued`` time it is given, and nothing here reads the clock
  or the environment, so the same story gives the same bytes on every machine.
- Fonts, all embedded as subsets (:mod:`ledger.certificates.render.fonts`): Chinese in Noto Sans SC
  (:data:`CJK_FONT`), Latin text in Bitstream Vera Sans, hex and other machine values in IBM Plex Mono
  (:data:`MONO_FONT`), whose glyphs are all 0.6 em wide so a value's line breaks are known exactly
  (:func:`mono_lines`). :func:`register_fonts` must run before a story is built; it is idempotent. The document
  built by :func:`document` embeds a CJK font holding exactly the characters of its story.
- Text is escaped: :func:`mixed`, :func:`heading` and :func:`table` escape every value for reportlab's
  paragraph markup, so a name such as ``<b>`` or ``&`` is printed, never interpreted.
- The QR code: :func:`qr_matrix` is the one encoder (error correction M, smallest version), drawn by
  :class:`QrFlowable` as vector modules in a form XObject named ``FormXob.qr`` with a quiet zone of
  :data:`QR_BORDER` modules; :func:`qr_runs` gives the dark runs an SVG drawing uses.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import qrcode
import qrcode.constants
from qrcode.exceptions import DataOverflowError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from ledger.certificates.render import fonts
from ledger.certificates.render.fonts import CJK_FONT, LATIN_BOLD, LATIN_FONT, MONO_FONT

__all__ = [
    "CELL_PAD",
    "EndMarker",
    "CJK_FONT",
    "LABEL_W",
    "LATIN_BOLD",
    "LATIN_FONT",
    "MARGIN",
    "MONO_CHARS",
    "MONO_FONT",
    "MONO_SIZE",
    "PAGE_H",
    "PRODUCER",
    "PAGE_W",
    "QR_BORDER",
    "QR_FORM_NAME",
    "VALUE_W",
    "build_pdf",
    "QrFlowable",
    "Row",
    "Styles",
    "document",
    "heading",
    "mixed",
    "mono_lines",
    "story_text",
    "qr_matrix",
    "qr_runs",
    "register_fonts",
    "table",
]

#: The PDF producer named in every document's information dictionary.
PRODUCER = "Qianhai IP Ledger (reportlab)"
MONO_SIZE = 7.5
#: Quiet zone around the QR symbol, in modules (ISO/IEC 18004 asks for 4).
QR_BORDER = 4
#: The name given to the QR code's form XObject in the PDF (reportlab prefixes it with ``FormXob.``).
QR_FORM_NAME = "qr"

PAGE_W, PAGE_H = A4
#: The page margin of the certificates, on every side.
MARGIN = 18 * mm
#: The widths of a :func:`table`'s label and value columns; together they fill the page between the margins.
LABEL_W = 150.0
VALUE_W = PAGE_W - 2 * MARGIN - LABEL_W
CELL_PAD = 4.0
#: Characters of :data:`MONO_FONT` that fit on one line of a value cell (its glyphs are 600/1000 em wide).
MONO_CHARS = int((VALUE_W - 2 * CELL_PAD) // (0.6 * MONO_SIZE))


# --- fonts and text -----------------------------------------------------------------------------


def register_fonts() -> None:
    """Registers the embedded fonts with reportlab (once per process; later calls do nothing)."""
    fonts.register_fonts()


def _latin1ish(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def mixed(text: str) -> str:
    """Paragraph markup for ``text``: escaped, with runs outside Windows-1252 (all the Latin and mono fonts
    hold) set in the CJK font."""
    out: list[str] = []
    run: list[str] = []
    run_latin = True
    for ch in text:
        latin = _latin1ish(ch)
        if run and latin != run_latin:
            out.append(_font_run("".join(run), run_latin))
            run = []
        run.append(ch)
        run_latin = latin
    if run:
        out.append(_font_run("".join(run), run_latin))
    return "".join(out)


def _font_run(text: str, latin: bool) -> str:
    escaped = xml_escape(text).replace("\n", "<br/>")
    return escaped if latin else f'<font name="{CJK_FONT}">{escaped}</font>'


def mono_lines(value: str | tuple[str, ...]) -> list[str]:
    """Fixed-width lines: each item on its own line, cut at :data:`MONO_CHARS`."""
    items = (value,) if isinstance(value, str) else value
    lines: list[str] = []
    for item in items:
        lines.extend(item[i : i + MONO_CHARS] for i in range(0, max(len(item), 1), MONO_CHARS))
    return lines


class Styles:
    """The paragraph styles of the certificates (titles, headings, table cells, body text, notes, URLs).

    ``compact`` tightens the leading and the spacing (same type sizes) by about a tenth: a renderer whose last page
    would hold only a few lines lays the document out again with it (:class:`EndMarker`)."""

    def __init__(self, compact: bool = False) -> None:
        register_fonts()  # the styles name the fonts; a paragraph cannot be made before they are registered
        k = 0.88 if compact else 1.0
        self.compact = compact
        #: The top and bottom padding of a :func:`table`'s cells.
        self.cell_pad_v = 1.5 if compact else 2.5
        self.title_zh = ParagraphStyle("title_zh", fontName=CJK_FONT, fontSize=20, leading=26 * k, alignment=1)
        self.title_en = ParagraphStyle("title_en", fontName=LATIN_BOLD, fontSize=14, leading=18 * k, alignment=1)
        self.subtitle = ParagraphStyle(
            "subtitle", fontName=LATIN_FONT, fontSize=7.5, leading=10, alignment=1, textColor=colors.HexColor("#555555")
        )
        self.heading = ParagraphStyle(
            "heading",
            fontName=LATIN_BOLD,
            fontSize=10.5,
            leading=14 * k,
            spaceBefore=8 * k,
            spaceAfter=3,
            textColor=colors.HexColor("#1f3a5f"),
        )
        self.label = ParagraphStyle(
            "label", fontName=LATIN_FONT, fontSize=7.5, leading=9.5 * k, textColor=colors.HexColor("#333333")
        )
        self.value = ParagraphStyle("value", fontName=LATIN_FONT, fontSize=8.5, leading=11 * k)
        self.mono = ParagraphStyle("mono", fontName=MONO_FONT, fontSize=MONO_SIZE, leading=MONO_SIZE + 2 * k)
        self.body_zh = ParagraphStyle(
            "body_zh", fontName=LATIN_FONT, fontSize=8.5, leading=12.5 * k, wordWrap="CJK", spaceBefore=3 * k
        )
        self.body_en = ParagraphStyle("body_en", fontName=LATIN_FONT, fontSize=8.5, leading=11 * k)
        self.note_zh = ParagraphStyle("note_zh", fontName=CJK_FONT, fontSize=8.5, leading=12.5 * k, wordWrap="CJK")
        self.note_en = ParagraphStyle("note_en", fontName=LATIN_FONT, fontSize=8.5, leading=11.5 * k, spaceBefore=3 * k)
        self.command = ParagraphStyle(
            "command", fontName=MONO_FONT, fontSize=8, leading=10 * k, spaceBefore=3 * k, leftIndent=10
        )
        self.url = ParagraphStyle("url", fontName=MONO_FONT, fontSize=8, leading=10 * k, spaceBefore=4 * k)


class EndMarker(Flowable):  # type: ignore[misc]
    """Placed last in a story, it records how full the last page is: :attr:`pages` and :attr:`fill` (the share of
    the frame's height used on the last page, 0 to 1) once the document is built."""

    def __init__(self) -> None:
        super().__init__()
        self.width = self.height = 0
        self.available = 0.0
        self.pages = 0
        self.fill = 1.0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.available = available_height
        return 0, 0

    def draw(self) -> None:
        self.pages = self.canv.getPageNumber()
        frame = PAGE_H - 2 * MARGIN - 12  # the frame's height inside its 6-point paddings
        self.fill = max(0.0, min(1.0, 1 - self.available / frame))

    def sparse(self, minimum: float = 0.4) -> bool:
        """Whether the document has more than one page and its last page is less than ``minimum`` full."""
        return self.pages > 1 and self.fill < minimum


# --- headings and tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a :func:`table`: a bilingual label and its value (a tuple prints one item per line)."""

    zh: str
    en: str
    value: str | tuple[str, ...]
    mono: bool = False  # hex and other machine values: the mono font, wrapped at fixed width


#: The space a :func:`heading` wants below it on its page (about three table rows), or it starts the next page.
HEADING_ROOM = 42.0


class _Heading(Paragraph):  # type: ignore[misc]
    """A heading that is never the last thing on a page: with less than :data:`HEADING_ROOM` below it, it does
    not fit (and cannot be split), so the frame moves it to the next page."""

    _fits = True

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        width, height = super().wrap(available_width, available_height)
        self._fits = height + HEADING_ROOM <= available_height
        return width, height if self._fits else available_height + 1

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        return [] if not self._fits else list(super().split(available_width, available_height))


def heading(zh: str, en: str, st: Styles) -> Paragraph:
    """A section heading ``zh  /  en``, kept with what follows it (never alone at the foot of a page)."""
    return _Heading(f'<font name="{CJK_FONT}">{xml_escape(zh)}</font>  /  {xml_escape(en)}', st.heading)


def table(rows: Sequence[Row], st: Styles) -> Table:
    """A two-column table (shaded bilingual labels, values) as wide as the page between the margins."""
    data: list[list[Paragraph]] = []
    for row in rows:
        label = Paragraph(f'<font name="{CJK_FONT}">{xml_escape(row.zh)}</font><br/>{xml_escape(row.en)}', st.label)
        if row.mono:
            # Chinese in a machine value (a JSON string, say) is set in the CJK font, the rest in the mono font
            value = Paragraph("<br/>".join(mixed(line) for line in mono_lines(row.value)), st.mono)
        else:
            text = row.value if isinstance(row.value, str) else "\n".join(row.value)
            value = Paragraph(mixed(text), st.value)
        data.append([label, value])
    result = Table(data, colWidths=[LABEL_W, VALUE_W], splitInRow=1)
    result.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 0), (-1, -1), LATIN_FONT),  # the cells' base font (reportlab's default is Helvetica)
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
                ("TOPPADDING", (0, 0), (-1, -1), st.cell_pad_v),
                ("BOTTOMPADDING", (0, 0), (-1, -1), st.cell_pad_v),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f4f8")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c9d1dc")),
                ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#8a99ad")),
            ]
        )
    )
    return result


# --- the QR code --------------------------------------------------------------------------------


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of ``url`` as rows of modules (``True`` is dark), without the quiet zone.

    Error correction level M, the smallest version that fits; every rendering draws exactly this
    matrix with a quiet zone of :data:`QR_BORDER` modules. Raises ``ValueError`` when ``url`` is longer
    than a QR code holds (about 2,300 bytes at level M).
    """
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(url)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError):  # qrcode 8 reports "Invalid version" past version 40
        raise ValueError(f"the verification address ({len(url)} characters) is too long for a QR code") from None
    return [[bool(m) for m in row] for row in qr.get_matrix()]


def qr_runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each horizontal run of dark modules."""
    runs: list[tuple[int, int]] = []
    x = 0
    while x < len(row):
        if row[x]:
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append((start, x - start))
        else:
            x += 1
    return runs


class QrFlowable(Flowable):  # type: ignore[misc]
    """Draws a QR matrix as vector modules inside a form XObject, ``size`` points square with its quiet zone."""

    def __init__(self, matrix: list[list[bool]], size: float) -> None:
        super().__init__()
        self.matrix = matrix
        self.size = size
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        canv: Canvas = self.canv
        n = len(self.matrix) + 2 * QR_BORDER
        canv.beginForm(QR_FORM_NAME, 0, 0, n, n)
        canv.setFillColor(colors.white)
        canv.rect(0, 0, n, n, stroke=0, fill=1)
        canv.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            for x, length in qr_runs(row):
                # PDF y grows upwards; module row 0 is the top row of the symbol.
                canv.rect(QR_BORDER + x, n - QR_BORDER - y - 1, length, 1, stroke=0, fill=1)
        canv.endForm()
        canv.saveState()
        canv.scale(self.size / n, self.size / n)
        canv.doForm(QR_FORM_NAME)
        canv.restoreState()


# --- the document -------------------------------------------------------------------------------


def story_text(items: Any) -> list[str]:
    """Every string a story (flowables, tables, nested lists) may print: the markup of its paragraphs, the values of
    its table cells. Used to choose the characters of a document's CJK font."""
    out: list[str] = []
    stack = [items]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Flowable):
            for attr in ("text", "_cellvalues", "_content", "lines", "_flowables"):
                value = getattr(item, attr, None)
                if value is not None:
                    stack.append(value)
    return out


def _pdf_date(ts: int) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


class _Document(SimpleDocTemplate):  # type: ignore[misc]
    """A template whose build embeds a CJK font made for its story and dates the PDF with ``issued``."""

    def __init__(self, buf: io.BytesIO, *, issued: int | None, extra_text: str, **kwargs: Any) -> None:
        super().__init__(buf, **kwargs)
        self._issued = issued
        self._extra_text = extra_text

    def build(self, flowables: list[Flowable], *args: Any, **kwargs: Any) -> None:
        register_fonts()
        text = story_text(flowables)
        text.append(self._extra_text)
        text.extend(str(getattr(self, key, "") or "") for key in ("title", "subject", "author"))
        with fonts.LOCK:
            fonts.use_cjk_font(text)
            kwargs.setdefault("canvasmaker", self._canvas)
            super().build(flowables, *args, **kwargs)

    def _canvas(self, *args: Any, **kwargs: Any) -> Canvas:
        canv = Canvas(*args, **kwargs)
        if self._issued is not None:
            stamp = _pdf_date(self._issued)
            canv.setDateFormatter(lambda *_: stamp)
        return canv


def build_pdf(
    story: Callable[[Styles], list[Flowable]],
    *,
    title: str,
    on_page: Callable[[Canvas, SimpleDocTemplate], None] | None = None,
    **options: Any,
) -> bytes:
    """The PDF of the story ``story(Styles())``, built by :func:`document` (``options`` go to it: ``margin``,
    ``issued``, ``extra_text``, ``author``...) with ``on_page`` drawn on every page. When its last page would hold
    only a few lines (:meth:`EndMarker.sparse`), the story is made again with ``Styles(compact=True)`` and that is
    built instead. Deterministic: the same story gives the same bytes."""
    pdf, end = _build_once(story(Styles()), title, on_page, options)
    if end.sparse():
        pdf, end = _build_once(story(Styles(compact=True)), title, on_page, options)
    return pdf


def _build_once(
    story: list[Flowable],
    title: str,
    on_page: Callable[[Canvas, SimpleDocTemplate], None] | None,
    options: dict[str, Any],
) -> tuple[bytes, EndMarker]:
    buf = io.BytesIO()
    end = EndMarker()
    pages: dict[str, Any] = {"onFirstPage": on_page, "onLaterPages": on_page} if on_page else {}
    document(buf, title=title, **options).build([*story, end], **pages)
    return buf.getvalue(), end


def document(
    buf: io.BytesIO,
    *,
    title: str,
    margin: float = MARGIN,
    issued: int | None = None,
    extra_text: str = "",
    **info: Any,
) -> SimpleDocTemplate:
    """An A4 document template writing to ``buf``, with ``margin`` on every side and ``invariant=1`` (the
    same story gives the same bytes). ``issued`` (Unix seconds) is the PDF's creation and modification date:
    the certificate's issue time (without it reportlab's invariant date is written). ``extra_text`` names
    characters drawn outside the story (page decorations) that the CJK font must hold. ``info`` passes further
    document properties (``author``, ``subject``, ``creator``, ``keywords``, ``lang``) to reportlab; the
    producer is :data:`PRODUCER`."""
    info.setdefault("producer", PRODUCER)
    return _Document(
        buf,
        issued=issued,
        extra_text=extra_text,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title,
        invariant=1,
        initialFontName=LATIN_FONT,
        **info,
    )
