"""Recently returned chunk payloads, kept in memory by point id.

Turning a stored payload into a Python dict is most of what a small search costs on Qdrant
Edge (measured on 1,000 chunks: 0.09 ms to rank, 0.18 ms to rank and return ten payloads).
A point id names one version of one chunk (``ingest.article.chunk_point_id`` hashes the
article's content into it), so a payload seen once stays true for that id; upserts still
drop the ids they write, and a payload read while an upsert ran is never kept. Deleted
points stay until evicted, harmlessly: searches only return ids the store still holds.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable

ENTRIES = 10_000  # about 3 KB each: ~30 MB at most


class PayloadCache:
    """A bounded LRU map of point id → payload, safe to share between threads."""

    def __init__(self, entries: int = ENTRIES):
        self.entries = entries
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # moves on every write: a read that spans a write is not kept

    def payloads(self, ids: list[str], fetch: Callable[[list[str]], Iterable[tuple[str, dict[str, Any]]]]
                 ) -> dict[str, dict[str, Any]]:
        """The payload of each id (a copy), fetching those not held; ids the store no longer
        holds are left out."""
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            generation = self._generation
            for i in ids:
                payload = self._items.get(i)
                if payload is not None:
                    self._items.move_to_end(i)
                    found[i] = payload
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            fetched = dict(fetch(missing))
            with self._lock:
                if generation == self._generation:
                    for i, payload in fetched.items():
                        self._items[i] = payload
                    while len(self._items) > self.entries:
                        self._items.popitem(last=False)
            found.update(fetched)
        return {i: dict(p) for i, p in found.items()}

    def writing(self, ids: Iterable[str]) -> None:
        """Call before and after a write of ``ids``: drops them and turns away reads in flight."""
        with self._lock:
            self._generation += 1
            for i in ids:
                self._items.pop(i, None)
