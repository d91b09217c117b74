"""What a request may carry into retrieval and the model: one set of bounds for every face.

The CLI, the HTTP API, the web app and the integrations all reach the service, which checks
here: the text of a question, claim, quotation or query; the conversation history (turns,
total size; as ``(question, answer)`` pairs or OpenAI-style messages); the filter values.
Text holding code points no UTF-8 text can carry (a lone surrogate), NUL or a Unicode
noncharacter is refused with the name of the field, before any tokenizer sees it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import InputError
from .settings import Settings

# Lone surrogates (no UTF-8 encoding exists: USE's tokenizer failed on them with a 500), NUL,
# and the noncharacters U+FDD0–U+FDEF and U+xFFFE/U+xFFFF of every plane.
_INVALID = re.compile("[\x00\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)) + "]")

# Filter values (languages, outlets, collections) and dates: generous for real names, far
# below what could cost anything (the API's JSON body limit is 256 KB).
MAX_FILTER_VALUES = 200
MAX_FILTER_CHARS = 200
MAX_DATE_CHARS = 64

Pairs = list[tuple[str, str]]
History = Sequence[tuple[str, str] | Sequence[str] | Mapping[str, Any]]


def invalid_char(text: str) -> str | None:
    """The first code point ``text`` may not carry, as ``U+XXXX``; None when it is clean."""
    found = _INVALID.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def refuse_invalid(text: str, what: str) -> str:
    """``text`` unchanged, or InputError naming ``what`` and the code point."""
    bad = invalid_char(text)
    if bad:
        raise InputError(f"the {what} holds a character no text may carry ({bad}); send valid Unicode")
    return text


def check_text(text: str | None, what: str, settings: Settings) -> str:
    """A question, claim, quotation or query: stripped, not empty, within the length limit, valid."""
    text = (text or "").strip()
    if not text:
        raise InputError(f"the {what} is empty")
    if len(text) > settings.max_question_chars:
        raise InputError(f"the {what} is {len(text)} characters; the limit is {settings.max_question_chars}")
    return refuse_invalid(text, what)


def _content(value: Any) -> str:
    """An OpenAI message's content: a string, or a list of parts of which the text ones count."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part.get("text", "") for part in value
                       if isinstance(part, Mapping) and part.get("type", "text") == "text")
    raise InputError("history: a message's content must be text or a list of text parts")


def history_pairs(history: Iterable[Any] | None) -> Pairs:
    """``(question, answer)`` pairs from pairs or from OpenAI-style ``{"role", "content"}`` messages.

    A user message opens a turn and the assistant message after it is its answer; system and
    tool messages are skipped; a user message with no answer after it still counts as a turn.
    """
    pairs: Pairs = []
    pending: str | None = None
    for item in history or []:
        if isinstance(item, Mapping):
            role = item.get("role")
            if role == "user":
                if pending is not None:
                    pairs.append((pending, ""))
                pending = _content(item.get("content"))
            elif role == "assistant":
                pairs.append((pending or "", _content(item.get("content"))))
                pending = None
            elif role not in ("system", "developer", "tool"):
                raise InputError(f"history: unknown message role {str(role)[:20]!r}; use user or assistant")
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            pairs.append((str(item[0] or ""), str(item[1] or "")))
        else:
            raise InputError("history: each item is a [question, answer] pair or a {role, content} message")
    if pending is not None:
        pairs.append((pending, ""))
    return pairs


def check_history(history: Iterable[Any] | None, settings: Settings) -> Pairs:
    """The conversation as pairs, within ``max_history_turns`` turns and ``max_history_chars`` in all."""
    pairs = history_pairs(history)
    if len(pairs) > settings.max_history_turns:
        raise InputError(f"history has {len(pairs)} turns; the limit is {settings.max_history_turns} "
                         "(send the most recent ones)")
    total = sum(len(q) + len(a) for q, a in pairs)
    if total > settings.max_history_chars:
        raise InputError(f"history holds {total} characters; the limit is {settings.max_history_chars} "
                         "(send the most recent turns)")
    for n, (q, a) in enumerate(pairs, 1):
        refuse_invalid(q, f"history's question {n}")
        refuse_invalid(a, f"history's answer {n}")
    return pairs


def recent_turns(pairs: Pairs, settings: Settings) -> Pairs:
    """The latest turns of a long conversation that fit the history bounds (what the web app sends)."""
    kept: Pairs = []
    total = 0
    for q, a in reversed(pairs[-settings.max_history_turns:] if settings.max_history_turns else []):
        total += len(q) + len(a)
        if total > settings.max_history_chars:
            break
        kept.append((q, a))
    return kept[::-1]


def check_values(values: Sequence[str] | None, what: str) -> list[str]:
    """Filter values (languages, outlets, collections): a bounded list of short, valid strings."""
    values = list(values or [])
    if len(values) > MAX_FILTER_VALUES:
        raise InputError(f"the {what} filter names {len(values)} values; the limit is {MAX_FILTER_VALUES}")
    for value in values:
        if not isinstance(value, str) or len(value) > MAX_FILTER_CHARS:
            raise InputError(f"each {what} filter value is text of at most {MAX_FILTER_CHARS} characters")
        refuse_invalid(value, f"{what} filter")
    return values


def check_date(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_DATE_CHARS:
        raise InputError(f"'{what}' is {len(value)} characters; a date needs at most {MAX_DATE_CHARS}")
    return refuse_invalid(value, f"'{what}' date")
