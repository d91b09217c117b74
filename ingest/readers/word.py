"""Word documents (.docx) via python-docx: paragraphs and tables, core properties."""
from __future__ import annotations

import zipfile
from datetime import timezone
from pathlib import Path
from typing import Iterator

from assistant.text.language import detect_language

from ..article import Article, derived_article_id
from ..normalize import clean_text, normalize_lang
from .base import ReaderError, ReadResult, display_path, identity_path


class DocxReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        where = display_path(path)
        try:
            document = docx.Document(str(path))
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ReaderError(f"{where}: not a readable Word .docx document ({type(exc).__name__}: {exc})") from exc
        except Exception as exc:  # lxml errors inside the package parts
            raise ReaderError(f"{where}: damaged .docx ({type(exc).__name__}: {exc})") from exc
        paragraphs: list[str] = []
        heading = ""
        for para in document.paragraphs:
            text = clean_text(para.text).strip()
            if not text:
                continue
            style = (para.style.name if para.style is not None else "") or ""
            if not heading and (style == "Title" or style.startswith("Heading")):
                heading = text
            paragraphs.append(text)
        for table in document.tables:
            for row in table.rows:
                cells = [clean_text(c.text).strip() for c in row.cells]
                line = " | ".join(c for c in cells if c)
                if line:
                    paragraphs.append(line)
        body = "\n\n".join(paragraphs)
        if not body:
            raise ReaderError(f"{where}: no text in the document")
        props = document.core_properties
        title = clean_text(props.title or "").strip() or heading or paragraphs[0][:200]
        published = props.created
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=timezone.utc)
        extra = {"format": "docx"}
        if props.keywords:
            extra["keywords"] = props.keywords
        if props.modified:
            extra["modified"] = props.modified.isoformat()
        yield Article(
            id=derived_article_id(identity_path(path)),
            title=title,
            body=body,
            published=published,
            authors=[a.strip() for a in (props.author or "").replace(";", ",").split(",") if a.strip()],
            lang=normalize_lang(props.language or "") or detect_language(title + "\n" + body),
            section=clean_text(props.category or "").strip(),
            source_path=where,
            extra=extra,
        )
