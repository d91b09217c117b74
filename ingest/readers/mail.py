"""Press releases by mail: .eml files and .mbox mailboxes (stdlib email/mailbox).

A message becomes an article (Subject -> title, Date -> published, From -> authors and
source); each attachment in a supported format becomes its own article whose
``extra`` names the message it came with.
"""
from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator

from assistant.text.language import detect_language

from ..article import Article, derived_article_id, derived_title
from ..normalize import MetadataError, clean_text, parse_datetime
from .base import ReaderError, ReadFailure, ReadResult, decode_bytes, display_path
from .registry import reader_for

MAX_ATTACHMENTS = 50


def _part_text(part: EmailMessage, where: str) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    try:
        text = payload.decode(charset) if charset else decode_bytes(payload, where)
    except (LookupError, UnicodeDecodeError):
        text = decode_bytes(payload, where)
    if part.get_content_subtype() == "html":
        from .newsxml import html_fragment_text

        return html_fragment_text(text, where)
    return clean_text(text).strip()


def header(msg: EmailMessage, name: str) -> str:
    """A header's text; its raw value when the standard library's parser fails on it (a truncated
    ``Message-ID: <id@`` raises IndexError inside ``email._header_value_parser``)."""
    try:
        return str(msg.get(name, "") or "")
    except (IndexError, ValueError, TypeError, AttributeError):
        raw = next((value for key, value in msg.raw_items() if key.lower() == name.lower()), "")
        return " ".join(str(raw).split())


def message_articles(msg: EmailMessage, where: str, fallback_key: str) -> Iterator[ReadResult]:
    from .archive import read_embedded

    subject = clean_text(" ".join(header(msg, "Subject").split()))
    message_id = header(msg, "Message-ID").strip().strip("<>")
    try:
        published = parse_datetime(header(msg, "Date"))
    except (MetadataError, TypeError, ValueError):
        published = None
    name, address = email.utils.parseaddr(header(msg, "From"))
    organization = clean_text(header(msg, "Organization")).strip()
    source = organization or name or (address.split("@", 1)[1] if "@" in address else address)
    article_id = derived_article_id("mail", message_id) if message_id else fallback_key
    attachments: list[ReadResult] = []
    count = 0
    for part in msg.iter_attachments():
        filename = part.get_filename()
        if not filename:
            continue
        count += 1
        if count > MAX_ATTACHMENTS:
            attachments.append(ReadFailure(where, f"more than {MAX_ATTACHMENTS} attachments; the rest are skipped"))
            break
        if reader_for(Path("x" + Path(filename).suffix.lower())) is None:
            continue
        data = part.get_payload(decode=True) or b""
        # The message's date stands for the attachment's own (a temp file's would change every run).
        mtime = published.timestamp() if published else None
        for item in read_embedded(data, filename, f"{where}!{filename}", mtime=mtime):
            if not isinstance(item, ReadFailure):
                item.extra["message_id"] = message_id
                item.extra["attached_to"] = article_id
                item.published = item.published or published
                item.source = item.source or source
            attachments.append(item)
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = _part_text(body_part, where) if body_part is not None else ""
    if body:
        extra = {"format": "email"}
        if message_id:
            extra["message_id"] = message_id
        if address:
            extra["from"] = address
        attached = [a.id for a in attachments if isinstance(a, Article)]
        if attached:
            extra["attachments"] = ", ".join(attached)
        yield Article(
            id=article_id,
            title=subject or derived_title(body),
            body=body,
            published=published,
            source=source,
            authors=[name or address] if (name or address) else [],
            lang=detect_language(subject + "\n" + body),
            source_path=where,
            extra=extra,
        )
    elif not attachments:
        raise ReaderError(f"{where}: mail has no text body and no readable attachment")
    yield from attachments


class EmlReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        where = display_path(path)
        data = path.read_bytes()
        if not data.strip():
            raise ReaderError(f"{where}: empty file")
        try:
            msg = email.message_from_bytes(data, policy=email.policy.default)
            if not any(header(msg, h) for h in ("From", "Subject", "Date", "Message-ID", "Content-Type")):
                raise ReaderError(f"{where}: not an e-mail message (no From, Subject, Date or Message-ID header)")
            items = list(message_articles(msg, where, derived_article_id(where)))
        except RecursionError as exc:
            raise ReaderError(f"{where}: MIME parts nested too deeply to read") from exc
        yield from items


class MboxReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        where = display_path(path)
        with open(path, "rb") as fh:
            if not fh.read(5) == b"From ":
                raise ReaderError(f"{where}: not an mbox mailbox (does not start with a 'From ' line)")
        box = mailbox.mbox(str(path), create=False)
        try:
            keys = list(box.keys())
            if not keys:
                raise ReaderError(f"{where}: mailbox holds no messages")
            for n, key in enumerate(keys, start=1):
                msg_where = f"{where}!msg{n}"
                try:
                    msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
                    yield from message_articles(msg, msg_where, derived_article_id(where, str(n)))
                except (ReaderError, ValueError, LookupError) as exc:
                    yield ReadFailure(msg_where, str(exc).replace(f"{msg_where}: ", ""))
                except RecursionError:
                    yield ReadFailure(msg_where, "MIME parts nested too deeply to read")
        finally:
            box.close()
