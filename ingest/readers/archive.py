"""ZIP archives of any supported format, read with guards against hostile archives.

Refused: member names that escape the archive (absolute, '..', drive letters),
symlinks, encrypted members, more than ``max_members`` members, more than
``max_total_bytes`` uncompressed, a compression ratio over ``max_ratio`` (zip bombs),
and zips nested more than one level. Members are read from memory (a temporary
file only for readers that need a path) and named ``archive.zip!dir/member.html``.
"""
from __future__ import annotations

import io
import re
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

from .base import ReaderError, ReadFailure, ReadResult, aliased, check_content, display_path
from .registry import reader_for

MAX_MEMBERS = 5000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MAX_RATIO = 100
MAX_DEPTH = 1  # a zip inside a zip is read; a zip inside that is not
_RATIO_MIN_BYTES = 1024 * 1024  # small members may compress extremely well legitimately
_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def _unsafe_name(name: str) -> str | None:
    if "\x00" in name:
        return "NUL byte in the name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute path"
    if any(part == ".." for part in norm.split("/")):
        return "path traversal ('..')"
    return None


def read_embedded(data: bytes, name: str, virtual: str, depth: int = 0, mtime: float | None = None) -> Iterator[ReadResult]:
    """Read one file that lives inside another (zip member, mail attachment).

    Yields ReadFailure instead of raising, so one bad member never stops its archive.
    """
    suffix = PurePosixPath(name).suffix.lower()
    reader = reader_for(Path("x" + suffix))
    if reader is None:
        yield ReadFailure(virtual, f"unsupported file type '{suffix or '(none)'}'")
        return
    if not data:
        yield ReadFailure(virtual, "empty file (0 bytes)")
        return
    try:
        check_content(suffix, data[:16], virtual)
        if isinstance(reader, ZipReader):
            if depth >= MAX_DEPTH:
                raise ReaderError(f"{virtual}: zip nested inside a nested zip (only one level of nesting is read)")
            yield from reader.read_bytes(data, virtual, depth + 1)
            return
        safe = _SAFE_NAME.sub("_", PurePosixPath(name.replace("\\", "/")).name)[-120:] or "member" + suffix
        with tempfile.TemporaryDirectory(prefix="newsroom-embedded-") as tmp:
            target = Path(tmp) / safe
            target.write_bytes(data)
            if mtime is not None:
                import os

                os.utime(target, (mtime, mtime))
            with aliased(target, virtual):
                try:
                    items = list(reader.read(target))
                except Exception as exc:  # one member's failure, not the archive's
                    message = str(exc).replace(str(target), virtual)
                    if not message.startswith(virtual):
                        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
                    yield ReadFailure(virtual, message.replace(f"{virtual}: ", ""))
                    return
        for item in items:
            if isinstance(item, ReadFailure):
                item.where = item.where.replace(str(target), virtual)
                item.error = item.error.replace(str(target), virtual)
            yield item
    except ReaderError as exc:
        yield ReadFailure(virtual, str(exc).replace(f"{virtual}: ", ""))


class ZipReader:
    def __init__(
        self,
        max_members: int = MAX_MEMBERS,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_member_bytes: int = MAX_MEMBER_BYTES,
        max_ratio: float = MAX_RATIO,
    ) -> None:
        self.max_members = max_members
        self.max_total_bytes = max_total_bytes
        self.max_member_bytes = max_member_bytes
        self.max_ratio = max_ratio

    def read(self, path: Path) -> Iterator[ReadResult]:
        yield from self.read_bytes(path.read_bytes(), display_path(path), 0)

    def read_bytes(self, data: bytes, where: str, depth: int) -> Iterator[ReadResult]:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise ReaderError(f"{where}: not a readable ZIP archive ({exc})") from exc
        with archive:
            if len(infos) > self.max_members:
                raise ReaderError(f"{where}: ZIP has {len(infos)} members (limit {self.max_members})")
            declared = sum(i.file_size for i in infos)
            if declared > self.max_total_bytes:
                raise ReaderError(
                    f"{where}: ZIP would unpack to {declared / 1e6:.0f} MB (limit {self.max_total_bytes / 1e6:.0f} MB); possible zip bomb"
                )
            total = 0
            for info in infos:
                name = info.filename
                member = f"{where}!{name}"
                if info.is_dir():
                    continue
                base = PurePosixPath(name.replace("\\", "/")).name
                if name.startswith("__MACOSX/") or base.startswith("."):
                    continue
                problem = _unsafe_name(name)
                if problem:
                    yield ReadFailure(member, f"refused archive member name: {problem}")
                    continue
                mode = info.external_attr >> 16
                if mode and stat.S_ISLNK(mode):
                    yield ReadFailure(member, "refused archive member: symbolic link")
                    continue
                if reader_for(Path("x" + PurePosixPath(base).suffix.lower())) is None:
                    continue  # like a folder walk: files of other types are skipped
                if info.flag_bits & 0x1:
                    yield ReadFailure(member, "encrypted archive member (password required)")
                    continue
                if info.file_size > self.max_member_bytes:
                    yield ReadFailure(member, f"member is {info.file_size / 1e6:.0f} MB uncompressed (limit {self.max_member_bytes / 1e6:.0f} MB)")
                    continue
                if info.file_size > _RATIO_MIN_BYTES and info.file_size > self.max_ratio * max(info.compress_size, 1):
                    yield ReadFailure(
                        member,
                        f"compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 over the limit "
                        f"{self.max_ratio:g}:1; possible zip bomb",
                    )
                    continue
                try:
                    content = self._read_member(archive, info, min(self.max_member_bytes, self.max_total_bytes - total))
                except ReaderError as exc:
                    yield ReadFailure(member, str(exc))
                    if "size limit" in str(exc):
                        return
                    continue
                total += len(content)
                try:
                    mtime = time.mktime(info.date_time + (0, 0, -1))
                except (OverflowError, ValueError):
                    mtime = None
                yield from read_embedded(content, name, member, depth, mtime)

    def _read_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
        """Decompress with a hard byte budget: sizes in the header may lie."""
        out = bytearray()
        try:
            with archive.open(info) as fh:
                while True:
                    block = fh.read(1 << 20)
                    if not block:
                        break
                    out += block
                    if len(out) > budget:
                        raise ReaderError(f"unpacks past the size limit ({budget / 1e6:.0f} MB); possible zip bomb")
                    if len(out) > _RATIO_MIN_BYTES and len(out) > self.max_ratio * max(info.compress_size, 1):
                        raise ReaderError(f"compression ratio over the limit {self.max_ratio:g}:1; possible zip bomb")
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ReaderError(f"damaged or unsupported archive member ({exc})") from exc
        return bytes(out)
