"""Recency: questions that ask for the latest coverage, and the boost that puts it first."""
from __future__ import annotations

from datetime import datetime

from ..store.interface import Hit
from ..text.words import RECENCY_CUES


def wants_recent(query: str) -> bool:
    """Does the question ask for the latest coverage ("latest", "récemment", "最新", "今年"...)?"""
    return bool(RECENCY_CUES.search(query))


def _day_number(published: str | None) -> float | None:
    if not published:
        return None
    try:
        return datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp() / 86400.0
    except ValueError:
        return None


def recency_boost(hits: list[Hit], weight: float, half_life_days: float) -> list[Hit]:
    """Add ``weight × 0.5^(age / half_life)`` to each score, age counted from the newest hit.

    Measured from the newest candidate rather than today, so an archive that stopped in 2020
    still puts its latest coverage first. Undated hits get no boost. Re-sorted.
    """
    days = [_day_number(h.payload.get("published")) for h in hits]
    newest = max((d for d in days if d is not None), default=None)
    if newest is None or weight <= 0:
        return hits
    boosted = [
        Hit(h.id, h.score + (weight * 0.5 ** ((newest - d) / half_life_days) if d is not None else 0.0), h.payload,
            legs=h.legs)
        for h, d in zip(hits, days)
    ]
    return sorted(boosted, key=lambda h: -h.score)
