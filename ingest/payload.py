"""What a stored chunk looks like: its payload and the text its vectors are made from."""
from __future__ import annotations

from typing import Any

from assistant.store.shared import iso

from .article import DERIVED_TITLE_CHARS, Article, chunk_point_id
from .chunking import Chunk


def embed_text(article: Article, chunk: Chunk, with_title: bool) -> str:
    """Title and date travel with the chunk into the embedder (context for short passages).

    A title the chunk already opens with (a headline derived from the body's first line,
    which readers do for rows and files without one) is not embedded twice."""
    if not with_title:
        return chunk.text
    head = "" if _opens_with(chunk.text, article.title) else article.title
    if article.published:
        head = f"{head} ({article.published.date().isoformat()})".lstrip()
    return f"{head}\n{chunk.text}" if head else chunk.text


def _opens_with(text: str, title: str) -> bool:
    """Does ``text`` open with ``title``'s words, whole (a title cut at the derived-title length
    may end mid-word)? Spacing is ignored."""
    head, words = " ".join(text[: len(title) + 64].split()), " ".join(title.split())
    if not words or not head.startswith(words):
        return False
    return len(head) == len(words) or not head[len(words)].isalnum() or len(title) >= DERIVED_TITLE_CHARS


def chunk_payload(article: Article, chunk: Chunk, n_chunks: int, content_hash: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "article_id": article.id,
        "chunk_id": chunk_point_id(article.id, chunk.index, content_hash, article.collection),
        "chunk_index": chunk.index,
        "n_chunks": n_chunks,
        "title": article.title,
        "source": article.source,
        "url": article.url,
        "lang": article.lang,
        "authors": article.authors,
        "section": article.section,
        "collection": article.collection,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "content_hash": content_hash,
        "source_path": article.source_path,
    }
    if article.published:
        payload["published"] = iso(article.published)
    if article.embargo_until:
        payload["embargo_until"] = iso(article.embargo_until)
    return payload
