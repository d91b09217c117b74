"""The reader interface and the shared helpers every reader uses."""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Union

from ..article import Article


class ReaderError(Exception):
    """A file (or one record in it) cannot be read; the message says why."""


@dataclass
class ReadFailure:
    where: str  # file, or file:line for one record
    error: str


ReadResult = Union[Article, ReadFailure]


class Reader(Protocol):
    def read(self, path: Path) -> Iterator[ReadResult]:
        """Yield the articles of a file, and a ReadFailure for each bad record."""


def decode_bytes(data: bytes, where: str) -> str:
    """Decode text of unknown encoding: BOMs first, then UTF-8, then detection."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data[:4096] and not data[:4096].count(b"\x00") * 4 >= len(data[:4096]):
        raise ReaderError(f"{where}: binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReaderError(f"{where}: not text in any known encoding")
    return str(best)
