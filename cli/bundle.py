"""The certificate bundle of a bulk registration (``ipledger evidence register`` of several files, or ``--out``).

One directory (or, for ``--out NAME.zip``, one ZIP archive) holds everything a registration leaves on this machine:

- ``certificates/NNNN-<file name>.certificate.json``: one certificate per input, numbered in the order of the
  command line, so inputs with the same name in different folders never collide;
- ``index.json``: for each input its path, content hash, binding, salt (private registrations), receipt, status,
  block and certificate file; the counts; the format is named ``qianhai-ip-ledger/certificate-bundle`` v1;
- ``index.csv``: the same for people (a spreadsheet opens it), one row per input.

Guarantees:
- Nothing is written beside the inputs.
- ``--out`` is checked before anything is hashed or sent (:meth:`Target.parse`): an existing non-empty directory,
  an existing file or archive, or a place that cannot be written is refused with a message naming it, and
  nothing is created.
- The index is written as soon as the API accepted the registration (it holds the salts of a private
  registration, which exist nowhere else), and again once the certificates are in; an archive is written once,
  at the end, from a staging directory beside it that is then removed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cli.render import local_time
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/certificate-bundle"
CSV_COLUMNS = [
    "number",
    "path",
    "status",
    "contentHash",
    "algorithm",
    "binding",
    "receiptId",
    "blockNumber",
    "registeredAt",
    "certificate",
    "error",
]


def _writable_place(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is a directory this process may create entries in."""
    for parent in [path.parent, *path.parent.parents]:
        if parent.exists():
            return parent if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK) else None
    return None


@dataclass(frozen=True)
class Target:
    """Where the bundle goes: a directory, or a ZIP archive."""

    path: Path
    archive: bool

    @classmethod
    def parse(cls, out: Path | None) -> Target:
        """The bundle's place from ``--out`` (default ``./certificates-<local time>/``); refused before anything
        is written if it cannot be used."""
        if out is None:
            stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
            path, n = Path(f"certificates-{stamp}"), 1
            while path.exists():
                n += 1
                path = Path(f"certificates-{stamp}-{n}")
            out = path
        archive = out.suffix.lower() == ".zip"
        if archive and out.exists():
            raise InvalidInput(f"--out {out} already exists: choose a new archive name", field="out")
        if not archive and out.exists():
            if not out.is_dir():
                raise InvalidInput(f"--out {out} is a file, not a directory: choose a new name", field="out")
            if any(out.iterdir()):
                raise InvalidInput(
                    f"--out {out} is a directory that is not empty: choose a new or empty one", field="out"
                )
            if not os.access(out, os.W_OK | os.X_OK):
                raise InvalidInput(f"--out {out}: this directory cannot be written", field="out")
        elif _writable_place(out) is None:
            raise InvalidInput(
                f"--out {out} cannot be created: its parent is not a directory that can be written", field="out"
            )
        return cls(out, archive)


@dataclass
class Bundle:
    """A bundle being written: the entries of the registration, its directory (or an archive's staging)."""

    target: Target
    entries: list[dict[str, Any]]
    meta: dict[str, Any]
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.target.archive:
            parent = self.target.path.parent
            parent.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix=f".{self.target.path.stem}-", dir=parent))
        else:
            self.target.path.mkdir(parents=True, exist_ok=True)
            self.root = self.target.path
        width = max(4, len(str(len(self.entries))))
        for n, e in enumerate(self.entries, 1):
            e["number"] = n
            e["certificateName"] = f"certificates/{n:0{width}d}-{_safe(Path(e['file']).name)}.certificate.json"

    @property
    def where(self) -> Path:
        return self.target.path

    def save_certificate(self, entry: dict[str, Any], cert: dict[str, Any]) -> None:
        path = self.root / entry["certificateName"]
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(cert, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        entry["certificate"] = entry["certificateName"]

    def counts(self) -> dict[str, int]:
        statuses = [e["status"] for e in self.entries]
        return {
            "files": len(statuses),
            "certificates": sum(1 for e in self.entries if e.get("certificate")),
            "registered": sum(1 for s in statuses if s in ("registered", "final")),
            "duplicates": statuses.count("duplicate"),
            "pending": sum(1 for s in statuses if s in ("accepted", "pending", "queued")),
            "failed": sum(1 for s in statuses if s in ("failed", "rejected")),
        }

    def index(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            **self.meta,
            "counts": self.counts(),
            "entries": [_index_entry(e) for e in self.entries],
        }

    def write_index(self) -> None:
        doc = self.index()
        _atomic_text(self.root / "index.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        tmp = self.root / ".index.csv.tmp"
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in doc["entries"]:
                writer.writerow(
                    {**row, "registeredAt": local_time(row["blockTimestamp"]) if row["blockTimestamp"] else ""}
                )
        tmp.replace(self.root / "index.csv")

    def close(self) -> None:
        """Writes the archive (for a ``.zip`` target) from the staging directory, then removes the staging."""
        if not self.target.archive:
            return
        tmp = self.target.path.with_name(self.target.path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(self.root.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(self.root).as_posix())
        tmp.replace(self.target.path)
        shutil.rmtree(self.root, ignore_errors=True)

    def discard(self) -> None:
        """Removes what was created when the registration was not accepted at all."""
        shutil.rmtree(self.root, ignore_errors=True)


def _index_entry(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": e["number"],
        "path": str(e["file"]),
        "absolutePath": str(Path(e["file"]).resolve()),
        "status": e["status"],
        "contentHash": "0x" + e["content"].hex(),
        "algorithm": e["algorithm"],
        "partyId": e["partyId"],
        "binding": "0x" + e["binding"].hex(),
        "salt": "0x" + e["salt"].hex() if e["salt"] else None,
        "receiptId": e.get("receiptId"),
        "blockNumber": e.get("blockNumber"),
        "blockTimestamp": e.get("blockTimestamp"),
        "certificate": e.get("certificate"),
        "error": e.get("error"),
    }


def _safe(name: str) -> str:
    """A file name kept readable but safe in any file system and archive."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("._") or "file"


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
