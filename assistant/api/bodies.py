"""The API's request bodies: bounded, unknown fields refused, no code point that no text may carry."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..inputs import MAX_DATE_CHARS, MAX_FILTER_CHARS, MAX_FILTER_VALUES, invalid_char
from ..service import Filters


def _valid(text: str) -> str:
    """Refuse code points no text may carry; pydantic's error then names the field."""
    bad = invalid_char(text)
    if bad:
        raise ValueError(f"holds a character no text may carry ({bad}); send valid Unicode")
    return text


Text = Annotated[str, AfterValidator(_valid)]
Name = Annotated[str, Field(max_length=MAX_FILTER_CHARS), AfterValidator(_valid)]
Names = list[Name] | None
# The service bounds the whole history (turns and characters: ``inputs.check_history``); this
# keeps a body from carrying more items than that before it is read.
MAX_HISTORY_ITEMS = 100


class Message(BaseModel):
    """One OpenAI-style chat message: ``{"role": "user" | "assistant" | "system", "content": ...}``."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant", "system", "developer", "tool"]
    content: Text | list[dict[str, Any]] | None = None


History = list[tuple[Text, Text] | Message] | None


class FilterBody(BaseModel):
    """The CLI's filters; ``collection`` narrows within the caller's grants (never widens them)."""

    model_config = ConfigDict(extra="forbid")
    lang: Names = Field(default=None, max_length=MAX_FILTER_VALUES)
    since: Text | None = Field(default=None, max_length=MAX_DATE_CHARS)
    until: Text | None = Field(default=None, max_length=MAX_DATE_CHARS)
    source: Names = Field(default=None, max_length=MAX_FILTER_VALUES)
    collection: Names = Field(default=None, max_length=MAX_FILTER_VALUES)

    def filters(self) -> Filters:
        return Filters(lang=self.lang, source=self.source, since=self.since, until=self.until)


class SearchBody(FilterBody):
    query: Text
    k: int | None = Field(default=None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"


class AskBody(FilterBody):
    question: Text
    history: History = Field(default=None, max_length=MAX_HISTORY_ITEMS,
                             description="earlier turns: [question, answer] pairs or {role, content} messages")
    stream: bool = False


class ExportBody(FilterBody):
    question: Text
    history: History = Field(default=None, max_length=MAX_HISTORY_ITEMS)
    format: Literal["md", "csv"] = "md"


class CheckBody(FilterBody):
    claim: Text


class QuoteBody(FilterBody):
    words: Text


class CoverageBody(FilterBody):
    query: Text
