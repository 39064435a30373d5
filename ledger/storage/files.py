"""Reading a file a user names (a certificate, a token, a keystore, a case file) with a bound on its size.

A size check by ``stat`` is not enough: a device or a pipe (``/dev/zero``, ``<(…)``) has no size and never ends,
and a file can grow while it is read. :func:`read_bounded` reads at most one byte more than the limit, so a file
over it is refused having read no more than that, and never hangs on an endless stream.
"""

from __future__ import annotations

from pathlib import Path

from ledger.errors import InvalidInput

KIB = 1024
MIB = 1024 * KIB


def shown_size(limit: int) -> str:
    """``limit`` bytes in words: ``64 KiB``, ``256 MiB``, ``1,000 bytes``."""
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit >= KIB and limit % KIB == 0:
        return f"{limit // KIB} KiB"
    return f"{limit:,} bytes"


def read_bounded(path: Path | str, limit: int, *, field: str, what: str) -> bytes:
    """The bytes of ``path``, at most ``limit``; more is :class:`InvalidInput` naming ``field`` (``what`` says
    what the file should be: "a certificate"). A missing file, a directory or a refused read raise as ``open``
    and ``read`` do (``OSError``), for the caller to word."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{path} is larger than {what} can be ({shown_size(limit)})", field=field)
    return data


def read_bounded_text(path: Path | str, limit: int, *, field: str, what: str) -> str:
    """:func:`read_bounded` as UTF-8 text; bytes that are not UTF-8 are :class:`InvalidInput` too."""
    try:
        return read_bounded(path, limit, field=field, what=what).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text, so it is not {what}", field=field) from None
