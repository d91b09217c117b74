"""One reader per format family; ``reader_for(path)`` picks one by file name."""
from __future__ import annotations

from .archive import ZipReader
from .base import Reader, ReadFailure, ReaderError, ReadResult, check_content
from .csvfile import CsvReader
from .html import HtmlReader
from .jsonl import JsonlReader
from .mail import EmlReader, MboxReader
from .newsxml import FeedReader, NewsMLReader, NitfReader, XmlReader
from .pdf import PdfReader
from .registry import reader_for, register, supported_suffixes
from .text import MarkdownReader, TextReader
from .word import DocxReader

for _suffix, _reader in {
    ".jsonl": JsonlReader(),
    ".ndjson": JsonlReader(),
    ".csv": CsvReader(),
    ".txt": TextReader(),
    ".text": TextReader(),
    ".md": MarkdownReader(),
    ".markdown": MarkdownReader(),
    ".html": HtmlReader(),
    ".htm": HtmlReader(),
    ".xhtml": HtmlReader(),
    ".xml": XmlReader(),  # NITF, NewsML-G2, RSS or Atom: sniffed from the root element
    ".nitf": NitfReader(),
    ".newsml": NewsMLReader(),
    ".g2": NewsMLReader(),
    ".rss": FeedReader(),
    ".atom": FeedReader(),
    ".pdf": PdfReader(),
    ".docx": DocxReader(),
    ".eml": EmlReader(),
    ".mbox": MboxReader(),
    ".zip": ZipReader(),
}.items():
    register(_suffix, _reader)

__all__ = [
    "Reader", "ReadFailure", "ReaderError", "ReadResult", "check_content", "reader_for", "register", "supported_suffixes",
]
