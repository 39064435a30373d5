"""The fonts every PDF of the ledger embeds: all packaged with its Python dependencies, each embedded as a subset,
each under a licence that allows embedding and redistribution.

- Chinese: Noto Sans SC Regular (package ``pylopdf-fonts-zh-cn``, SIL Open Font License 1.1; OpenType/CFF). reportlab embeds TrueType
  outlines only, so for each document :func:`cjk_font` converts the glyphs of the characters that document uses
  (cubic to quadratic curves, fontTools ``cu2qu``) into a small TrueType font; reportlab then embeds the subset of
  it the pages draw. Converted glyphs are kept for the life of the process.
- Latin: Bitstream Vera Sans and Vera Sans Bold, the TrueType fonts reportlab ships (``reportlab/fonts``, Bitstream
  Vera Fonts licence: free to use, embed and redistribute).
- Machine values (hex, commands, URLs): IBM Plex Mono Regular (package ``fontpkg-ibm-plex-mono``, SIL Open Font
  License 1.1), whose glyphs are all 600/1000 em wide.

Nothing here reads the clock or the environment: the font of a document depends only on the characters it uses,
so the same document gives the same bytes on every machine. The fonts' copyright and licence notices travel in
each font's ``name`` table.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fontpkg_ibm_plex_mono
import pylopdf_fonts_zh_cn
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as FtFont
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

__all__ = [
    "CJK_FONT",
    "LATIN_BOLD",
    "LATIN_FONT",
    "LOCK",
    "MONO_FONT",
    "cjk_font",
    "register_fonts",
    "use_cjk_font",
]

CJK_FONT = "NotoSansSC"
LATIN_FONT = "Vera"
LATIN_BOLD = "Vera-Bold"
MONO_FONT = "IBMPlexMono"

#: Held while a document is built: the CJK font registered under :data:`CJK_FONT` is that document's.
LOCK = threading.RLock()

#: Characters every CJK font has, whatever the document: ASCII, common CJK punctuation, and the footer's words.
_BASE_CJK = "".join(chr(c) for c in range(0x20, 0x7F)) + "，。、；：？！（）《》“”‘’—…·「」【】〔〕第页共"
_ZH_NAME_IDS = (0, 7, 8, 9, 10, 11, 12, 13, 14)  # copyright, trademark, vendor, designer, ..., licence, licence URL


def _cjk_path() -> Path:
    return Path(pylopdf_fonts_zh_cn.sans_path())


def _package_file(package: Any, name: str) -> Path:
    return Path(package.__file__).parent / "files" / name


# --- Chinese: Noto Sans SC, converted glyph by glyph ------------------------------------------------


class _CjkSource:
    """Noto Sans SC, read lazily; its glyphs converted to TrueType outlines on first use."""

    def __init__(self) -> None:
        self.font = FtFont(_cjk_path(), lazy=True)
        self.cmap: dict[int, str] = self.font.getBestCmap()
        self.glyphs = self.font.getGlyphSet()
        self.hmtx = self.font["hmtx"]
        self.converted: dict[str, Any] = {}
        head, hhea, os2 = self.font["head"], self.font["hhea"], self.font["OS/2"]
        self.upm = head.unitsPerEm
        self.head = {"fontRevision": head.fontRevision, "created": head.created, "modified": head.modified}
        self.hhea = {"ascent": hhea.ascent, "descent": hhea.descent, "lineGap": hhea.lineGap}
        self.os2 = {
            "sTypoAscender": os2.sTypoAscender,
            "sTypoDescender": os2.sTypoDescender,
            "sTypoLineGap": os2.sTypoLineGap,
            "usWinAscent": os2.usWinAscent,
            "usWinDescent": os2.usWinDescent,
            "sxHeight": os2.sxHeight,
            "sCapHeight": os2.sCapHeight,
            "fsType": os2.fsType,
            "achVendID": os2.achVendID,
            "usWeightClass": os2.usWeightClass,
        }
        names = self.font["name"]
        self.notices = {
            name_id: str(record)
            for name_id in _ZH_NAME_IDS
            if (record := names.getName(name_id, 3, 1, 0x409)) is not None
        }

    def glyph(self, name: str) -> Any:
        if name not in self.converted:
            pen = TTGlyphPen(self.glyphs)
            self.glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            self.converted[name] = pen.glyph()
        return self.converted[name]

    def build(self, chars: frozenset[str]) -> bytes:
        cmap = {ord(ch): self.cmap[ord(ch)] for ch in sorted(chars) if ord(ch) in self.cmap}
        order = [".notdef", *sorted(set(cmap.values()) - {".notdef"})]
        fb = FontBuilder(self.upm, isTTF=True)
        fb.setupGlyphOrder(order)
        fb.setupCharacterMap(cmap)
        fb.setupGlyf({name: self.glyph(name) for name in order})
        fb.setupHorizontalMetrics({name: self.hmtx[name] for name in order})
        fb.setupHorizontalHeader(**self.hhea)
        notices = {
            {0: "copyright", 7: "trademark", 8: "manufacturer", 9: "designer", 10: "description"}.get(k, k): v
            for k, v in self.notices.items()
        }
        fb.setupNameTable(
            {
                **notices,
                "familyName": "Noto Sans SC",
                "styleName": "Regular",
                "uniqueFontIdentifier": "NotoSansSC-Regular",
                "fullName": "Noto Sans SC Regular",
                "psName": "NotoSansSC-Regular",
            },
            mac=False,
        )
        fb.setupOS2(**self.os2)
        fb.setupPost()
        fb.setupHead(unitsPerEm=self.upm, **self.head)
        fb.setupMaxp()
        fb.font.recalcTimestamp = False  # keep the source's dates: the same bytes on every run
        buf = io.BytesIO()
        fb.save(buf)
        return buf.getvalue()


@functools.cache
def _cjk_source() -> _CjkSource:
    return _CjkSource()


@functools.lru_cache(maxsize=16)
def _cjk_for(chars: frozenset[str]) -> TTFont:
    data = _cjk_source().build(chars | frozenset(_BASE_CJK))
    return TTFont(CJK_FONT, io.BytesIO(data))


def cjk_font(text: Iterable[str] = "") -> TTFont:
    """The CJK font for a document whose text is ``text`` (any iterable of strings): every character of it that
    Noto Sans SC has, plus ASCII and common CJK punctuation."""
    chars: set[str] = set()
    for part in text:
        chars.update(part)
    return _cjk_for(frozenset(chars))


def use_cjk_font(text: Iterable[str]) -> None:
    """Registers the CJK font for ``text`` as :data:`CJK_FONT`; call it holding :data:`LOCK` until the document
    is written."""
    with LOCK:
        _install(cjk_font(text))


def _install(font: TTFont) -> None:
    # reportlab's registerFont keeps the first font registered under a name; a document's CJK font replaces it
    pdfmetrics._fonts[font.fontName] = font  # noqa: SLF001 (no public way to replace a registered font)
    pdfmetrics._dynFaceNames[font.face.name] = font  # noqa: SLF001


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ToUnicode CMap of a TrueType subset, with characters beyond the BMP (Chinese names use CJK
    Extension B to H, such as 𬭚) written as UTF-16 surrogate pairs, as the PDF specification asks (reportlab
    writes ``<2CB5A>``, which readers take as U+2CB5)."""
    text = _reportlab_to_unicode_cmap(fontname, [min(v, 0xFFFF) for v in subset])
    for i, v in enumerate(subset):
        if v > 0xFFFF:
            text = text.replace(f"<{i:02X}> <FFFF>", f"<{i:02X}> <{chr(v).encode('utf-16-be').hex().upper()}>", 1)
    return text


_reportlab_to_unicode_cmap = ttfonts.makeToUnicodeCMap
ttfonts.makeToUnicodeCMap = _to_unicode_cmap

_registered = False


def register_fonts() -> None:
    """Registers the Latin, mono and (a base) CJK font with reportlab, once per process; later calls do nothing."""
    global _registered
    with LOCK:
        if _registered:
            return
        pdfmetrics.registerFont(TTFont(LATIN_FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(LATIN_BOLD, "VeraBd.ttf"))
        pdfmetrics.registerFont(TTFont(MONO_FONT, str(_package_file(fontpkg_ibm_plex_mono, "IBMPlexMono-Regular.ttf"))))
        pdfmetrics.registerFontFamily(LATIN_FONT, normal=LATIN_FONT, bold=LATIN_BOLD)
        pdfmetrics.registerFontFamily(MONO_FONT, normal=MONO_FONT)
        pdfmetrics.registerFontFamily(CJK_FONT, normal=CJK_FONT)
        _install(cjk_font())
        _registered = True
