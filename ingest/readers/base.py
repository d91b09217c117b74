"""The reader interface and the shared helpers every reader uses."""
from __future__ import annotations

import codecs
import re
from contextlib import contextmanager
from contextvars import ContextVar
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


# Legacy encodings a newsroom archive actually holds; detection is limited to them so
# that a short text is not "recognised" as some exotic code page (mojibake).
LIKELY_ENCODINGS = [
    "gb18030", "big5", "cp1252", "latin_1", "iso8859_15", "cp1251", "koi8_r", "cp1256", "iso8859_6",
    "shift_jis", "euc_jp", "euc_kr", "cp1250", "iso8859_2", "cp1253", "cp1254", "cp1255",
]
_ENCODING_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5-hkscs": "big5hkscs",
                     "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252"}


def _canonical(encoding: str) -> str | None:
    enc = encoding.strip().lower()
    enc = _ENCODING_ALIASES.get(enc, enc)
    try:
        return codecs.lookup(enc).name
    except LookupError:
        return None


def _looks_like_text(text: str) -> bool:
    """False for decoded binary: many control or replacement characters."""
    sample = text[:20000]
    if not sample:
        return True
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f") or ch == "\ufffd" or 0x7F <= ord(ch) < 0xA0)
    return bad <= max(2, len(sample) // 100)


def _utf8_mostly(data: bytes) -> str | None:
    """UTF-8 with a few invalid bytes (a damaged file) decodes as UTF-8, not as mojibake."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    if good >= 2 and bad <= good:
        return text
    return None


def decode_bytes(data: bytes, where: str, declared: str | None = None) -> str:
    """Decode text of unknown encoding.

    BOMs first, then strict UTF-8, then a charset the document declares (HTML meta,
    XML declaration, mail headers), then UTF-8 with a few damaged bytes, then
    detection limited to likely newsroom encodings. Binary content is refused.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReaderError(f"{where}: starts with a {encoding} byte-order mark but is not valid {encoding} ({exc.reason} at byte {exc.start})") from exc
    head = data[:4096]
    nuls = head.count(b"\x00")
    if nuls:
        # UTF-16 without a BOM: NULs (high bytes of ASCII) all on one side of the pairs.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if len(data) % 2 == 0 and (even == 0 or odd == 0):
            try:
                text = data.decode("utf-16-le" if odd else "utf-16-be")
                if _looks_like_text(text) and sum(ch.isalpha() for ch in text[:2000]) * 2 >= len(text[:2000]):
                    return text
            except UnicodeDecodeError:
                pass
        raise ReaderError(f"{where}: binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        enc = _canonical(declared)
        if enc and enc not in ("utf-8", "utf-16", "utf-32"):
            try:
                text = data.decode(enc)
                if _looks_like_text(text):
                    return text
            except UnicodeDecodeError:
                pass
    text = _utf8_mostly(data)
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    results = from_bytes(data, cp_isolation=LIKELY_ENCODINGS)
    best = results.best()
    if best is not None:
        # Equally plausible code pages: prefer the more common one (cp1252 over cp1250...).
        ties = [r for r in results if r.chaos == best.chaos and r.coherence == best.coherence]
        best = min(ties, key=lambda r: LIKELY_ENCODINGS.index(r.encoding) if r.encoding in LIKELY_ENCODINGS else 99)
    if best is None:
        raise ReaderError(f"{where}: binary content or text in an unknown encoding")
    text = str(best)
    if not _looks_like_text(text):
        raise ReaderError(f"{where}: binary content, not text")
    return text


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML or XML document declares in its first bytes, if any."""
    head = data[:4096]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


# Magic numbers of the binary formats a mis-named file most often is.
_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x7fELF", "elf"),
]
_KIND_NAMES = {"pdf": "a PDF", "zip": "a ZIP container (zip, docx, epub...)", "ole": "an old MS Office (OLE) file",
               "png": "a PNG image", "jpeg": "a JPEG image", "gif": "a GIF image", "gzip": "gzip-compressed data",
               "7z": "a 7-Zip archive", "rar": "a RAR archive", "elf": "a program (ELF)"}
# Which sniffed binary kinds each suffix may legitimately hold.
_ALLOWED_KINDS = {".pdf": {"pdf"}, ".zip": {"zip"}, ".docx": {"zip"}}


def sniff_kind(head: bytes) -> str | None:
    """The binary format the first bytes announce (None: nothing recognised, maybe text)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def check_content(suffix: str, head: bytes, where: str) -> None:
    """Refuse a file whose content is a different binary format than its name says."""
    suffix = suffix.lower()
    kind = sniff_kind(head)
    allowed = _ALLOWED_KINDS.get(suffix)
    if allowed is not None:
        if kind not in allowed:
            what = _KIND_NAMES.get(kind, "text or unknown data") if kind else "not " + {"pdf": "a PDF", "zip": "a ZIP archive"}[next(iter(allowed))]
            raise ReaderError(f"{where}: named '{suffix}' but the content is {what}")
        return
    if kind is not None:
        raise ReaderError(f"{where}: named '{suffix}' but the content is {_KIND_NAMES[kind]}")


# Files read out of an archive or a mail are written to a temporary file first; the
# reader then sees a temporary path. These aliases make it name the file as the
# archive member ('news.zip!a/b.html') in messages, source_path and derived ids.
_ALIASES: ContextVar[dict[str, str]] = ContextVar("reader_aliases", default={})


def display_path(path: Path | str) -> str:
    """How a file is named in reports and source_path (the archive member for temp files)."""
    return _ALIASES.get().get(str(path), str(path))


def identity_path(path: Path) -> str:
    """The string a file-derived article id is computed from (stable across runs)."""
    alias = _ALIASES.get().get(str(path))
    return alias if alias is not None else str(path.resolve())


@contextmanager
def aliased(path: Path, name: str) -> Iterator[None]:
    token = _ALIASES.set({**_ALIASES.get(), str(path): name})
    try:
        yield
    finally:
        _ALIASES.reset(token)
