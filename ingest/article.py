"""The normalized article every reader produces, with its stable identity."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from assistant.store.interface import DEFAULT_COLLECTION

# Bump when chunking or embedded-text rules change: stored hashes then differ and
# every article is re-embedded on the next ingest.
PIPELINE_VERSION = "2"  # 2: a title the chunk opens with is not embedded twice

DERIVED_TITLE_CHARS = 120
_NAMESPACE = uuid.UUID("6f1c1b6e-4d8a-4c47-9a59-3f3e1c0b7a21")


@dataclass
class Article:
    """One article as the archive knows it, whatever format it came from."""

    id: str
    title: str
    body: str
    url: str = ""
    published: datetime | None = None  # always timezone-aware when set
    source: str = ""  # outlet
    authors: list[str] = field(default_factory=list)
    lang: str = ""
    section: str = ""
    collection: str = DEFAULT_COLLECTION
    embargo_until: datetime | None = None
    source_path: str = ""  # the file it was read from (for --prune)
    extra: dict[str, str] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Hash of everything that is stored or embedded: equal hash = nothing to do."""
        parts = [
            PIPELINE_VERSION,
            self.id,
            self.title,
            self.body,
            self.url,
            self.published.isoformat() if self.published else "",
            self.source,
            "\x1f".join(self.authors),
            self.lang,
            self.section,
            self.collection,
            self.embargo_until.isoformat() if self.embargo_until else "",
        ]
        return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()


def derived_title(body: str) -> str:
    """The title of an article that came without one: its first line, cut at DERIVED_TITLE_CHARS."""
    return body.split("\n", 1)[0][:DERIVED_TITLE_CHARS]


def derived_article_id(*parts: str) -> str:
    """A stable article id for sources that carry none (file path, item index...)."""
    return "a-" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def chunk_point_id(article_id: str, index: int, content_hash: str, collection: str = DEFAULT_COLLECTION) -> str:
    """Deterministic point id: same article version and chunk number, same id.

    An article is (collection, id): the collection is part of the name for every collection but
    DEFAULT_COLLECTION (whose ids predate it). Two points share an id only when their content
    hashes share a prefix, and the hash covers the id, collection, text and embargo: an
    overwrite by the same id writes the same article."""
    name = f"{article_id}\x1f{index}\x1f{content_hash[:16]}"
    if collection != DEFAULT_COLLECTION:
        name = f"{collection}\x1e{name}"
    return str(uuid.uuid5(_NAMESPACE, name))
