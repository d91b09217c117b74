"""Round trips of the operations verbs on a real (small) ingested archive: migrate, backup, restore."""
from __future__ import annotations

import json
import tarfile

import pytest

from assistant.settings import load_settings
from conftest import CORPORA, read_jsonl, write_jsonl

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version"),
]

XQUAD = CORPORA / "xquad" / "corpus.en.jsonl"
QUERIES = ["How many points did the Panthers defense give up?", "Super Bowl halftime show", "sacks"]


def _search_all(assistant) -> list[list[tuple[float, str]]]:
    """Each query's results as (score, chunk id); exact RRF ties may come in either order, so sort them."""
    return [sorted(((-round(p.score, 4), p.chunk_id) for p in assistant.search(q, k=5))) for q in QUERIES]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A data folder with ~10 real passages ingested (the default embedder), closed again."""
    from assistant.service import Assistant

    if not XQUAD.exists():
        pytest.skip(f"corpus not found: {XQUAD}")
    root = tmp_path_factory.mktemp("archive")
    rows = read_jsonl(XQUAD, limit=10)
    for i, row in enumerate(rows):
        row["source"] = "xquad"
        row["published"] = f"2024-01-{i + 1:02d}"
    src = write_jsonl(root / "passages.jsonl", rows)
    assistant = Assistant(load_settings(env={}, data_dir=str(root / "data")))
    try:
        report = assistant.ingest([src])
        assert report.ingested == len(rows) and not report.failed
        expected = _search_all(assistant)
        chunks = assistant.store.count(__import__("assistant.store.interface", fromlist=["SearchFilter"]).SearchFilter())
        embedders = assistant.embedders  # loaded once, shared with the tests below
    finally:
        assistant.close()
    return {"root": root, "data": root / "data", "expected": expected, "chunks": chunks, "embedders": embedders}


def _assistant(archive, **flags):
    from assistant.service import Assistant

    a = Assistant(load_settings(env={}, **flags))
    a._embedders = archive["embedders"]  # reuse the loaded model
    return a


def test_migrate_copies_verifies_and_resumes(archive):
    from qdrant_client import QdrantClient

    from assistant.store.maintenance import migrate, open_edge
    from assistant.store.server import ServerStore

    settings = load_settings(env={}, data_dir=str(archive["data"]))
    client = QdrantClient(":memory:")
    server_settings = settings.with_overrides(qdrant_url=":memory:", collection="news")
    source = open_edge(settings)
    try:
        target = ServerStore(server_settings, source.dims, client=client)
        report = migrate(source, target, batch=4, sample=5)
        assert report.verified, report.summary()
        assert report.source_points == archive["chunks"] == report.target_points == report.copied
        assert report.skipped == 0 and report.sample_checked == 5
        assert "verified" in report.summary() and "\n" not in report.summary()

        # Resumable: a second run copies nothing; a partly copied collection gets only what is missing.
        again = migrate(source, target, batch=4)
        assert (again.copied, again.skipped, again.verified) == (0, archive["chunks"], True)
        from qdrant_client import models as m

        some = [str(r.id) for r in client.scroll("news", limit=3)[0]]
        client.delete("news", points_selector=m.PointIdsList(points=some), wait=True)
        resumed = migrate(source, target, batch=4)
        assert (resumed.copied, resumed.verified) == (3, True)
    finally:
        source.close()

    # The server collection answers searches exactly as the embedded store did.
    a = _assistant(archive, data_dir=str(archive["root"] / "unused"), qdrant_url=":memory:", collection="news")
    a._store = ServerStore(server_settings, {e.name: e.dim for e in archive["embedders"]}, client=client)
    try:
        got = _search_all(a)
    finally:
        a.close()
    assert got == archive["expected"]


def test_migrate_reports_mismatch(archive):
    from qdrant_client import QdrantClient

    from assistant.store.interface import ChunkPoint
    from assistant.store.maintenance import migrate, open_edge
    from assistant.store.server import ServerStore

    settings = load_settings(env={}, data_dir=str(archive["data"]))
    source = open_edge(settings)
    try:
        target = ServerStore(settings.with_overrides(qdrant_url=":memory:"), source.dims, client=QdrantClient(":memory:"))
        extra = {name: [1.0] * dim for name, dim in source.dims.items()}
        target.upsert([ChunkPoint("00000000-0000-0000-0000-000000000001", extra, ([1], [1.0]), {"article_id": "x"})])
        report = migrate(source, target)
        assert not report.verified and report.target_points == report.source_points + 1
        assert "NOT verified" in report.summary()
    finally:
        source.close()


def test_backup_restore_round_trip(archive, tmp_path):
    from assistant.errors import InputError, StoreLockedError
    from assistant.store.maintenance import backup, restore

    settings = load_settings(env={}, data_dir=str(archive["data"]))
    info = backup(settings, tmp_path)  # a folder: a time-stamped file in it
    dest = tmp_path / info["path"].rsplit("/", 1)[1]
    assert dest.name.endswith(".tar.gz") and info["points"] == archive["chunks"]
    with tarfile.open(dest) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("newsroom-backup.json").read())
    assert "qdrant/edge_config.json" in names and not any(n.endswith(".lock") for n in names)
    assert manifest["points"] == archive["chunks"] and manifest["kind"] == "edge"
    with pytest.raises(InputError, match="exists"):
        backup(settings, dest)

    new = load_settings(env={}, data_dir=str(tmp_path / "restored"))
    out = restore(new, dest)
    assert out["points"] == archive["chunks"]
    a = _assistant(archive, data_dir=str(tmp_path / "restored"))
    try:
        assert _search_all(a) == archive["expected"]
        # While a process holds the store, neither backup nor restore touches it.
        with pytest.raises(StoreLockedError):
            backup(new, tmp_path / "other.tar.gz")
        with pytest.raises(StoreLockedError):
            restore(new, dest, force=True)
    finally:
        a.close()

    with pytest.raises(InputError, match="not empty"):
        restore(new, dest)
    assert restore(new, dest, force=True)["points"] == archive["chunks"]
    a = _assistant(archive, data_dir=str(tmp_path / "restored"))
    try:
        assert _search_all(a) == archive["expected"]
    finally:
        a.close()


def test_restore_rejects_foreign_archives(tmp_path):
    from assistant.errors import InputError
    from assistant.store.maintenance import restore

    bad = tmp_path / "bad.tar.gz"
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(evil, arcname="../evil.txt")
    settings = load_settings(env={}, data_dir=str(tmp_path / "d"))
    with pytest.raises(InputError, match="not a newsroom backup"):
        restore(settings, bad)
    with pytest.raises(InputError, match="no backup file"):
        restore(settings, tmp_path / "missing.tar.gz")


def test_cli_verbs(archive, tmp_path, capsys):
    from assistant.cli.main import main

    dest = tmp_path / "b.tar.gz"
    assert main(["backup", str(dest), "--data-dir", str(archive["data"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == archive["chunks"]
    assert main(["restore", str(dest), "--data-dir", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.startswith(f"restored {archive['chunks']} points")
    assert main(["restore", str(dest), "--data-dir", str(tmp_path / "r")]) == 2  # not empty, no --force
    assert "not empty" in capsys.readouterr().err
    # Nothing to migrate from, and an unreachable server: one line each, naming the problem.
    assert main(["migrate", "--to", "http://127.0.0.1:9", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "no embedded store" in capsys.readouterr().err
    from assistant.store import server as ss

    ss.BACKOFF_S, saved = 0.001, ss.BACKOFF_S
    try:
        assert main(["migrate", "--to", "http://127.0.0.1:9", "--data-dir", str(archive["data"])]) == 4
    finally:
        ss.BACKOFF_S = saved
    err = capsys.readouterr().err.strip()
    assert "http://127.0.0.1:9" in err and "\n" not in err


def _format1_copy(src, dest) -> None:
    """The store at ``src`` as a store made before format 2 held it: Qdrant's IDF modifier on
    ``bm25``, no term ids in the payloads."""
    import qdrant_edge as q

    from assistant.store.maintenance import _edge_records, edge_dims

    shard = q.EdgeShard.load(str(src))
    config = q.EdgeConfig(
        vectors={n: q.EdgeVectorParams(size=d, distance=q.Distance.Cosine) for n, d in edge_dims(src).items()},
        sparse_vectors={"bm25": q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)})
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = q.EdgeShard.create(str(dest), config)
    for page in _edge_records(shard, 256):
        old.update(q.UpdateOperation.upsert_points([
            q.Point(p.id, {**p.dense, "bm25": q.SparseVector(indices=p.sparse[0], values=p.sparse[1])},
                    {k: v for k, v in p.payload.items() if k != "terms"}) for p in page]))
    old.flush()
    old.close()
    shard.close()


def test_upgrade_store_rebuilds_a_format1_store_with_the_same_points_and_scores(archive, tmp_path):
    """A store made before format 2 is refused at open; 'upgrade-store' copies its points (ids,
    vectors, payloads) into the current format, and BM25 for a user who sees everything scores
    exactly as Qdrant's IDF modifier did."""
    import qdrant_edge as q

    from assistant.embedders.sparse import query_vector
    from assistant.errors import ConfigError
    from assistant.store import maintenance as ops
    from assistant.store.factory import open_store
    from assistant.store.interface import SearchFilter

    settings = load_settings(env={}, data_dir=str(tmp_path / "data"))
    _format1_copy(archive["data"] / "qdrant", settings.store_path)
    with pytest.raises(ConfigError, match="upgrade-store"):
        open_store(settings, {"use": 512, "e5": 384})
    old = q.EdgeShard.load(str(settings.store_path))
    before = {}
    for words in ("Panthers defense points", "Super Bowl halftime show"):
        vec = query_vector(words)
        before[words] = [(str(p.id), p.score) for p in old.query(q.QueryRequest(
            limit=5, query=q.Query.Nearest(q.SparseVector(indices=vec[0], values=vec[1]), using="bm25")))]
    old.close()

    info = ops.upgrade_store(settings)
    assert info["upgraded"] and info["points"] == archive["chunks"]
    assert (settings.store_path.parent / "qdrant.format1").is_dir()
    a = _assistant(archive, data_dir=str(tmp_path / "data"))
    try:
        for words, hits in before.items():
            got = a.store.query({}, query_vector(words), SearchFilter(), limit=5, candidates=5)
            assert [h.id for h in got] == [i for i, _ in hits]
            assert [h.score for h in got] == pytest.approx([s for _, s in hits], rel=1e-5)
        assert _search_all(a) == archive["expected"]
    finally:
        a.close()
    assert ops.upgrade_store(settings)["upgraded"] is False
