"""``open_store(settings, dims)`` picks the backend the way qdrant-client picks local or
remote: the embedded Qdrant Edge folder by default, a Qdrant server when
``NEWSROOM_QDRANT_URL`` is set."""
from __future__ import annotations

from ..settings import Settings
from .interface import Store


def open_store(settings: Settings, dims: dict[str, int]) -> Store:
    if settings.embedded:
        from .edge import EdgeStore

        return EdgeStore(settings.store_path, dims)
    from .server import ServerStore

    return ServerStore(settings, dims)
