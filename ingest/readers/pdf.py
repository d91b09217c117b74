"""PDF: the text layer only (pypdf); scanned pages without text are refused, no OCR."""
from __future__ import annotations

import io
import logging
from datetime import timezone
from pathlib import Path
from typing import Iterator

from assistant.text.language import detect_language

from ..article import Article, derived_article_id
from ..normalize import clean_text
from .base import ReaderError, ReadResult, display_path, identity_path

MAX_PAGES = 2000


def _meta_str(meta: object, attr: str) -> str:
    try:
        value = getattr(meta, attr, None)
    except Exception:  # damaged metadata dictionary
        return ""
    return clean_text(value).strip() if isinstance(value, str) else ""


class PdfReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        import pypdf
        from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

        where = display_path(path)
        data = path.read_bytes()
        if not data.startswith(b"%PDF-"):
            raise ReaderError(f"{where}: not a PDF (no %PDF- header)")
        if b"%%EOF" not in data[-2048:]:
            raise ReaderError(f"{where}: truncated or damaged PDF (no %%EOF end marker)")
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        try:
            pdf = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if pdf.is_encrypted:
                try:
                    ok = pdf.decrypt("")
                except (DependencyError, NotImplementedError) as exc:
                    raise ReaderError(f"{where}: encrypted PDF ({exc})") from exc
                if not ok:
                    raise ReaderError(f"{where}: encrypted PDF (a password is required to read it)")
            if len(pdf.pages) > MAX_PAGES:
                raise ReaderError(f"{where}: PDF has {len(pdf.pages)} pages (limit {MAX_PAGES})")
            pages = [clean_text(page.extract_text() or "").strip() for page in pdf.pages]
            meta = pdf.metadata
        except FileNotDecryptedError as exc:
            raise ReaderError(f"{where}: encrypted PDF (a password is required to read it)") from exc
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
            raise ReaderError(f"{where}: damaged PDF ({type(exc).__name__}: {exc})") from exc
        body = "\n\n".join(p for p in pages if p)
        if not body:
            raise ReaderError(f"{where}: PDF has no text layer (scanned image? OCR is not supported)")
        title = _meta_str(meta, "title") if meta else ""
        author = _meta_str(meta, "author") if meta else ""
        published = None
        if meta:
            try:
                published = meta.creation_date
            except Exception:
                published = None
            if published is not None and published.tzinfo is None:
                published = published.replace(tzinfo=timezone.utc)
        first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
        yield Article(
            id=derived_article_id(identity_path(path)),
            title=title or first_line[:200] or path.stem,
            body=body,
            published=published,
            authors=[a.strip() for a in author.replace(";", ",").split(",") if a.strip()],
            lang=detect_language(title + "\n" + body),
            source_path=where,
            extra={"format": "pdf", "pages": str(len(pages))},
        )
