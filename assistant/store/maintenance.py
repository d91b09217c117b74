"""Operations: migrate the embedded store to a Qdrant server, back up and restore, upgrade.

- ``migrate`` copies every point (ids, all vectors, payload) from the embedded Edge
  store into a server collection, page by page. It is resumable: ids already on the
  server are skipped, so an interrupted run is simply started again. At the end it
  verifies point counts and a random sample of ids and payloads.
- ``backup``: embedded, a .tar.gz of the Edge folder taken while holding the store's
  lock (nothing else can write) after a flush; server, a collection snapshot made by
  the server and downloaded.
- ``restore``: embedded, unpacks a backup into the data folder (refusing to replace
  a non-empty store without ``force``); server, uploads a snapshot.
- ``upgrade_store``: rebuilds an embedded store of an earlier format (``store.STORE_FORMAT``)
  by copying its points into a new one, which takes its place.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import BackendError, ConfigError, InputError, StoreLockedError
from ..settings import Settings
from .interface import ChunkPoint
from .shared import SPARSE_NAME, STORE_FORMAT, stored_payload

BACKUP_FORMAT = 1
MANIFEST = "newsroom-backup.json"
STORE_ARCNAME = "qdrant"
PAGE = 256


# -- helpers -----------------------------------------------------------------------
def edge_dims(store_path: Path) -> dict[str, int]:
    from .edge import _stored_vector_sizes

    return _stored_vector_sizes(Path(store_path))


def _has_store(store_path: Path) -> bool:
    return store_path.is_dir() and any(store_path.iterdir())


def open_edge(settings: Settings):
    """The existing embedded store (never creates one)."""
    from .edge import EdgeStore

    path = settings.store_path
    if not _has_store(path):
        raise ConfigError(f"there is no embedded store at {path}: ingest first, or set --data-dir")
    return EdgeStore(path, edge_dims(path))


@contextlib.contextmanager
def _store_lock(store_path: Path) -> Iterator[None]:
    """The same lock file EdgeStore takes: no newsroom process may use the store meanwhile."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(store_path.parent / (store_path.name + ".lock"), "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise StoreLockedError(f"the store at {store_path} is in use by {holder}; stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"newsroom restore {os.getpid()}")
        fh.flush()
        yield
    finally:
        if not fh.closed:
            with contextlib.suppress(OSError):
                fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


def _edge_records(shard, page: int) -> Iterator[list[ChunkPoint]]:
    """Every point of an Edge shard with its vectors, a page at a time (embargoed ones too)."""
    import qdrant_edge as q

    offset = None
    while True:
        records, offset = shard.scroll(q.ScrollRequest(offset=offset, limit=page, with_payload=True, with_vector=True))
        out = []
        for r in records:
            vectors = dict(r.vector or {})
            sp = vectors.pop(SPARSE_NAME, None)
            sparse = (list(sp.indices), list(sp.values)) if sp is not None else ([], [])
            out.append(ChunkPoint(id=str(r.id), dense={k: list(v) for k, v in vectors.items()}, sparse=sparse,
                                  payload=dict(r.payload or {})))
        if out:
            yield out
        if offset is None:
            return


def _edge_total(shard) -> int:
    import qdrant_edge as q

    return int(shard.count(q.CountRequest(exact=True)))


# -- migrate -----------------------------------------------------------------------
@dataclass
class MigrateReport:
    target: str
    collection: str
    source_points: int = 0
    copied: int = 0
    skipped: int = 0
    target_points: int = 0
    sample_checked: int = 0
    sample_missing: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def verified(self) -> bool:
        return self.target_points == self.source_points and not self.sample_missing

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verified": self.verified}

    def summary(self) -> str:
        state = "verified" if self.verified else "NOT verified"
        return (
            f"migrate to {self.target} collection '{self.collection}': {self.source_points} points, copied {self.copied}, "
            f"skipped {self.skipped} already there; server holds {self.target_points}; sample {self.sample_checked - len(self.sample_missing)}"
            f"/{self.sample_checked} ok; {state}; {self.elapsed:.1f} s"
        )


def migrate(source, target, batch: int = PAGE, sample: int = 64, seed: int = 0,
            progress: Callable[[MigrateReport], None] | None = None) -> MigrateReport:
    """Copy an EdgeStore's points into a ServerStore (which may wrap any QdrantClient)."""
    started = time.monotonic()
    report = MigrateReport(target=target.url, collection=target.collection)
    report.source_points = _edge_total(source.shard)
    rng = random.Random(seed)
    reservoir: list[ChunkPoint] = []
    seen = 0
    for page in _edge_records(source.shard, batch):
        present = target.existing_ids([p.id for p in page])
        todo = [p for p in page if p.id not in present]
        target.upsert(todo)
        report.copied += len(todo)
        report.skipped += len(page) - len(todo)
        for p in page:  # reservoir sample of the source, for the check at the end
            seen += 1
            if len(reservoir) < sample:
                reservoir.append(p)
            else:
                j = rng.randrange(seen)
                if j < sample:
                    reservoir[j] = p
        if progress:
            progress(report)
    report.target_points = target.total()
    report.sample_checked = len(reservoir)
    if reservoir:
        got = {str(r.id): dict(r.payload or {}) for r in target._call(
            "retrieve", target.client.retrieve, target.collection, ids=[p.id for p in reservoir],
            with_payload=True, with_vectors=False)}
        report.sample_missing = [p.id for p in reservoir if got.get(p.id) != stored_payload(p)]
    report.elapsed = time.monotonic() - started
    return report


def migrate_to(settings: Settings, url: str, api_key: str | None = None, collection: str | None = None,
               batch: int = PAGE) -> MigrateReport:
    from .server import ServerStore

    if not url:
        raise InputError("migrate needs --to URL (the Qdrant server)")
    source = open_edge(settings)
    try:
        target_settings = settings.with_overrides(qdrant_url=url, qdrant_api_key=api_key, collection=collection)
        target = ServerStore(target_settings, source.dims)
        try:
            return migrate(source, target, batch=batch)
        finally:
            target.close()
    finally:
        source.close()


# -- upgrade -----------------------------------------------------------------------
def upgrade_store(settings: Settings) -> dict[str, Any]:
    """Rebuild an embedded store of format 1 (BM25 statistics over every chunk) in STORE_FORMAT.

    Every point is copied as it is (id, vectors, payload: nothing is re-embedded) into a new
    shard beside the store, which then takes its place; the old folder stays beside it as
    ``<name>.format1`` until the operator removes it. Holding the store's lock throughout; a
    run killed midway leaves the old store in place (or, killed between the two renames,
    finishes the swap when run again). A store already current is left as it is.
    """
    from .edge import EdgeStore, _has_idf_modifier

    if not settings.embedded:
        raise ConfigError(f"'newsroom upgrade-store' rebuilds the embedded store; for collection '{settings.collection}' "
                          f"on a server, ingest the archive again into a new NEWSROOM_COLLECTION")
    path = settings.store_path
    staging, kept = path.with_name(path.name + ".upgrading"), path.with_name(path.name + ".format1")
    started = time.monotonic()
    with _store_lock(path):
        if not path.exists() and kept.exists() and (staging / "edge_config.json").exists():
            os.replace(staging, path)  # a run killed between the renames: the copy was complete
        if not _has_store(path):
            raise ConfigError(f"there is no embedded store at {path}: nothing to upgrade")
        if not _has_idf_modifier(path):
            return {"path": str(path), "upgraded": False, "format": STORE_FORMAT, "points": None,
                    "elapsed": time.monotonic() - started}
        if kept.exists():
            raise ConfigError(f"{kept} exists (an earlier upgrade's copy of the old store): move it away first")
        import qdrant_edge as q

        shutil.rmtree(staging, ignore_errors=True)
        dims = edge_dims(path)
        shard = q.EdgeShard.load(str(path))
        try:
            total = _edge_total(shard)
            target = EdgeStore(staging, dims)
            try:
                for page in _edge_records(shard, PAGE):
                    target.upsert(page)
                copied = _edge_total(target.shard)
            finally:
                target.close()
        finally:
            shard.close()
        (staging.parent / (staging.name + ".lock")).unlink(missing_ok=True)
        if copied != total:
            shutil.rmtree(staging, ignore_errors=True)
            raise BackendError(f"upgrading {path}: copied {copied} of {total} points; the store is unchanged: "
                               f"run it again")
        os.replace(path, kept)
        os.replace(staging, path)
    return {"path": str(path), "upgraded": True, "format": STORE_FORMAT, "points": copied, "old_copy": str(kept),
            "elapsed": time.monotonic() - started}


# -- backup ------------------------------------------------------------------------
def _backup_name(dest: Path, suffix: str) -> Path:
    if dest.is_dir():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return dest / f"newsroom-backup-{stamp}{suffix}"
    return dest


def backup(settings: Settings, dest: Path, force: bool = False) -> dict[str, Any]:
    if settings.embedded:
        return backup_edge(settings, Path(dest), force)
    return backup_server(settings, Path(dest), force)


def backup_edge(settings: Settings, dest: Path, force: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    dest = _backup_name(dest, ".tar.gz")
    if dest.exists() and not force:
        raise InputError(f"{dest} exists; choose another name or pass --force")
    dest.parent.mkdir(parents=True, exist_ok=True)
    store = open_edge(settings)  # takes the store lock: no one writes while we copy
    try:
        store.flush()
        points = _edge_total(store.shard)
        manifest = {
            "format": BACKUP_FORMAT, "kind": "edge", "created": datetime.now(timezone.utc).isoformat(),
            "points": points, "vectors": store.dims, "source": str(settings.store_path),
        }
        fd, tmp = tempfile.mkstemp(prefix=".backup-", suffix=".tar.gz", dir=dest.parent)
        os.close(fd)
        try:
            with tarfile.open(tmp, "w:gz") as tar:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime = len(data), int(time.time())
                import io

                tar.addfile(info, io.BytesIO(data))
                tar.add(settings.store_path, arcname=STORE_ARCNAME)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    finally:
        store.close()
    return {"kind": "edge", "path": str(dest), "points": points, "bytes": dest.stat().st_size,
            "elapsed": round(time.monotonic() - started, 3)}


def _read_manifest(tar: tarfile.TarFile, src: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    except (KeyError, ValueError, AttributeError) as exc:
        raise InputError(f"{src} is not a newsroom backup (no {MANIFEST})") from exc
    if manifest.get("format") != BACKUP_FORMAT or manifest.get("kind") != "edge":
        raise InputError(f"{src}: unsupported backup format {manifest.get('format')!r} / {manifest.get('kind')!r}")
    for m in tar.getmembers():
        if m.name != MANIFEST and not (m.name == STORE_ARCNAME or m.name.startswith(STORE_ARCNAME + "/")):
            raise InputError(f"{src}: unexpected entry {m.name!r} in the backup")
    return manifest


def restore(settings: Settings, src: Path, force: bool = False) -> dict[str, Any]:
    if settings.embedded:
        return restore_edge(settings, Path(src), force)
    return restore_server(settings, Path(src), force)


def restore_edge(settings: Settings, src: Path, force: bool = False) -> dict[str, Any]:
    import qdrant_edge as q

    started = time.monotonic()
    if not src.is_file():
        raise InputError(f"no backup file at {src}")
    path = settings.store_path
    with _store_lock(path):
        if _has_store(path) and not force:
            raise InputError(f"the store at {path} is not empty; restore into another --data-dir, or pass --force to replace it")
        work = Path(tempfile.mkdtemp(prefix=".restore-", dir=path.parent))
        try:
            try:
                with tarfile.open(src, "r:gz") as tar:
                    manifest = _read_manifest(tar, src)
                    tar.extractall(work, filter="data")
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise InputError(f"cannot read backup {src}: {exc}") from exc
            restored = work / STORE_ARCNAME
            shard = q.EdgeShard.load(str(restored))  # it must open before it replaces anything
            try:
                points = _edge_total(shard)
            finally:
                shard.close()
            if points != manifest.get("points"):
                raise BackendError(f"backup {src} holds {points} points, its manifest says {manifest.get('points')}")
            old = None
            if path.exists():
                old = work / "replaced"
                os.replace(path, old)
            os.replace(restored, path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {"kind": "edge", "path": str(path), "points": points, "created": manifest.get("created"),
            "elapsed": round(time.monotonic() - started, 3)}


# -- server snapshots ----------------------------------------------------------------
def _server_headers(settings: Settings) -> dict[str, str]:
    return {"api-key": settings.qdrant_api_key} if settings.qdrant_api_key else {}


def _require_remote(settings: Settings) -> None:
    if settings.qdrant_url == ":memory:":
        raise ConfigError("snapshots need a Qdrant server; the in-memory client has none")


def backup_server(settings: Settings, dest: Path, force: bool = False) -> dict[str, Any]:
    """A snapshot made by the server (consistent per shard), streamed to ``dest``."""
    import httpx
    from qdrant_client import QdrantClient

    _require_remote(settings)
    started = time.monotonic()
    dest = _backup_name(dest, ".snapshot")
    if dest.exists() and not force:
        raise InputError(f"{dest} exists; choose another name or pass --force")
    url, c = settings.qdrant_url.rstrip("/"), settings.collection
    client = QdrantClient(url=url, api_key=settings.qdrant_api_key or None, timeout=600)
    try:
        snap = client.create_snapshot(c, wait=True)
        if snap is None:
            raise BackendError(f"Qdrant server at {url}: no snapshot was made of collection '{c}'")
        tmp = dest.with_name(dest.name + ".part")
        with httpx.stream("GET", f"{url}/collections/{c}/snapshots/{snap.name}", headers=_server_headers(settings),
                          timeout=600) as resp:
            resp.raise_for_status()
            with open(tmp, "wb") as fh:
                for chunk in resp.iter_bytes(1 << 20):
                    fh.write(chunk)
        os.replace(tmp, dest)
        with contextlib.suppress(Exception):
            client.delete_snapshot(c, snap.name)  # keep the server's disk tidy; the copy is here
    except (BackendError, InputError):
        raise
    except Exception as exc:
        raise BackendError(f"Qdrant server at {url}: snapshot of collection '{c}' failed: {' '.join(str(exc).split())[:300]}") from exc
    finally:
        client.close()
    return {"kind": "server", "path": str(dest), "collection": c, "snapshot": snap.name,
            "bytes": dest.stat().st_size, "elapsed": round(time.monotonic() - started, 3)}


def restore_server(settings: Settings, src: Path, force: bool = False) -> dict[str, Any]:
    """Upload a snapshot file as the collection (the server replaces it atomically)."""
    import httpx
    from qdrant_client import QdrantClient

    _require_remote(settings)
    started = time.monotonic()
    if not src.is_file():
        raise InputError(f"no snapshot file at {src}")
    url, c = settings.qdrant_url.rstrip("/"), settings.collection
    client = QdrantClient(url=url, api_key=settings.qdrant_api_key or None, timeout=600)
    try:
        if client.collection_exists(c) and client.count(c, exact=True).count and not force:
            raise InputError(f"collection '{c}' at {url} is not empty; pass --force to replace it")
        with open(src, "rb") as fh:
            resp = httpx.post(f"{url}/collections/{c}/snapshots/upload", params={"priority": "snapshot", "wait": "true"},
                              files={"snapshot": (src.name, fh)}, headers=_server_headers(settings), timeout=3600)
        resp.raise_for_status()
        points = client.count(c, exact=True).count
    except (BackendError, InputError):
        raise
    except Exception as exc:
        raise BackendError(f"Qdrant server at {url}: restore of collection '{c}' failed: {' '.join(str(exc).split())[:300]}") from exc
    finally:
        client.close()
    return {"kind": "server", "collection": c, "points": points, "elapsed": round(time.monotonic() - started, 3)}
