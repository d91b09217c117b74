"""CSV exports from a CMS: one article per row, same field mapping as JSON Lines."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from ..article import derived_article_id
from ..normalize import MetadataError
from .base import display_path, ReaderError, ReadFailure, ReadResult, decode_bytes
from .jsonl import apply_mapping, article_from_record, field_mapping

MAX_FIELD_BYTES = 16 * 1024 * 1024  # one article body; a bigger field is a broken export or an attack
csv.field_size_limit(MAX_FIELD_BYTES)


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a field is over the {MAX_FIELD_BYTES >> 20} MB CSV field limit"
    return f"unreadable CSV ({exc})"


class CsvReader:
    """Header row required; delimiter sniffed among , ; tab |.

    ``mapping`` maps our field names to the export's column names (else the
    NEWSROOM_FIELD_MAP environment variable, else the aliases in jsonl.FIELDS).
    """

    def __init__(self, mapping: dict[str, str] | None = None, delimiter: str | None = None) -> None:
        self.mapping = mapping
        self.delimiter = delimiter

    def read(self, path: Path) -> Iterator[ReadResult]:
        mapping = field_mapping(self.mapping)
        text = decode_bytes(path.read_bytes(), display_path(path))
        if not text.strip():
            raise ReaderError(f"{display_path(path)}: empty file")
        delimiter = self.delimiter
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            raise ReaderError(f"{display_path(path)}: empty file") from None
        except csv.Error as exc:
            raise ReaderError(f"{display_path(path)}: line 1: {_csv_problem(exc)} in the header") from exc
        if len(set(header)) != len(header):
            dupes = sorted({h for h in header if header.count(h) > 1})
            raise ReaderError(f"{display_path(path)}: line 1: duplicate column names in the header: {', '.join(dupes)}")
        start = reader.line_num + 1
        while True:
            where = f"{display_path(path)}:{start}"
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield ReadFailure(where, f"{_csv_problem(exc)}; the rest of the file is skipped")
                return
            start = reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            try:
                if len(values) != len(header):
                    raise ReaderError(f"row has {len(values)} fields, the header has {len(header)}")
                row = dict(zip(header, values))
                yield article_from_record(apply_mapping(row, mapping), where, display_path(path), derived_article_id(display_path(path), where.rsplit(":", 1)[1]))
            except (ValueError, ReaderError, MetadataError) as exc:
                yield ReadFailure(where, str(exc))
